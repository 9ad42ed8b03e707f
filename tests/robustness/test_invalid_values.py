"""Invalid values of every kind against the services as processes: 4xx naming the field,
never a 500."""

import base64
import json

import pytest

from devsupport.services import ADMIN_HEADERS
from tests.robustness.bad_input import (
    CLIENT_ERROR,
    DELIVERIES,
    GET_CANDIDATE,
    GET_JOB,
    JOB_VIEW,
    LIST_JOBS,
    MAX_BODY_BYTES,
    PATCH_JOB,
    POST_JOB,
    PREFERENCES,
    RECENTLY_VIEWED,
    SIGN_UP,
    UNSUBSCRIBE,
    UNSUBSCRIBE_PAGE,
    Api,
    Endpoint,
    assert_422_naming,
    assert_json_error,
)

pytestmark = [pytest.mark.robustness, pytest.mark.integration]


BODY_STRING_FIELDS = [
    (SIGN_UP, "email"),
    (SIGN_UP, "first_name"),
    (SIGN_UP, "last_name"),
    (SIGN_UP, "interests[]"),
    (SIGN_UP, "locations[]"),
    (SIGN_UP, "keywords[]"),
    (SIGN_UP, "phone"),
    (SIGN_UP, "visitor_id"),
    (PREFERENCES, "interests[]"),
    (PREFERENCES, "locations[]"),
    (PREFERENCES, "keywords[]"),
    (POST_JOB, "title"),
    (POST_JOB, "category"),
    (POST_JOB, "location"),
    (POST_JOB, "description"),
    (POST_JOB, "employment_type"),
    (POST_JOB, "requisition_id"),
    (PATCH_JOB, "title"),
    (PATCH_JOB, "description"),
    (JOB_VIEW, "visitor_id"),
]
QUERY_STRING_PARAMETERS = [
    (LIST_JOBS, "q"),
    (LIST_JOBS, "category"),
    (LIST_JOBS, "location"),
    (LIST_JOBS, "cursor"),
    (DELIVERIES, "email"),
    (UNSUBSCRIBE, "token"),
]


def field_ids(cases: list[tuple[Endpoint, str]]) -> list[str]:
    return [f"{endpoint} {field}" for endpoint, field in cases]


@pytest.mark.parametrize(
    ("endpoint", "field"), BODY_STRING_FIELDS, ids=field_ids(BODY_STRING_FIELDS)
)
def test_nul_character_in_a_body_string_is_4xx_not_500(
    api: Api, endpoint: Endpoint, field: str
) -> None:
    """PostgreSQL text cannot hold U+0000: the service must refuse it, not fail on it."""
    body = api.body_with(endpoint, field, json.dumps("nul\u0000inside"))
    assert_json_error(api.call_json(endpoint, body), CLIENT_ERROR)


@pytest.mark.parametrize(
    ("endpoint", "name"), QUERY_STRING_PARAMETERS, ids=field_ids(QUERY_STRING_PARAMETERS)
)
def test_nul_character_in_a_query_parameter_is_4xx_not_500(
    api: Api, endpoint: Endpoint, name: str
) -> None:
    assert_json_error(api.call(endpoint, params={name: "nul\u0000inside"}), CLIENT_ERROR)


def test_nul_character_in_a_path_segment_is_4xx_not_500(api: Api) -> None:
    response = api.call(RECENTLY_VIEWED, ids={"visitor_id": "nul%00inside"})
    assert_json_error(response, CLIENT_ERROR)


LONE_SURROGATE_FIELDS = [
    (SIGN_UP, "first_name"),
    (PREFERENCES, "keywords[]"),
    (POST_JOB, "title"),
    (PATCH_JOB, "title"),
    (JOB_VIEW, "visitor_id"),
]


@pytest.mark.parametrize(
    ("endpoint", "field"), LONE_SURROGATE_FIELDS, ids=field_ids(LONE_SURROGATE_FIELDS)
)
def test_lone_surrogate_escape_in_a_string_is_422(api: Api, endpoint: Endpoint, field: str) -> None:
    """`"\\ud800"` is valid JSON syntax but no Unicode text: an invalid value like any other."""
    body = api.body_with(endpoint, field, '"nurse \\ud800"')
    assert_422_naming(api.call_json(endpoint, body), field.removesuffix("[]"))


OVERLONG_BODY_FIELDS = [
    (SIGN_UP, "email", "a" * 250 + "@example.org"),
    (SIGN_UP, "first_name", "F" * 101),
    (SIGN_UP, "last_name", "L" * 10_000),
    (SIGN_UP, "interests[]", "i" * 101),
    (PREFERENCES, "keywords[]", "k" * 101),
    (POST_JOB, "title", "t" * 201),
    (POST_JOB, "category", "c" * 101),
    (POST_JOB, "location", "l" * 201),
    (POST_JOB, "description", "d" * 20_001),
    (POST_JOB, "employment_type", "e" * 51),
    (POST_JOB, "requisition_id", "r" * 65),
    (PATCH_JOB, "description", "d" * 20_001),
    (JOB_VIEW, "visitor_id", "v" * 129),
]


@pytest.mark.parametrize(
    ("endpoint", "field", "value"),
    OVERLONG_BODY_FIELDS,
    ids=[f"{e} {f} {len(v)}" for e, f, v in OVERLONG_BODY_FIELDS],
)
def test_overlong_body_string_is_422_naming_the_field(
    api: Api, endpoint: Endpoint, field: str, value: str
) -> None:
    body = api.body_with(endpoint, field, json.dumps(value))
    assert_422_naming(api.call_json(endpoint, body), field.removesuffix("[]"))


OVERLONG_PARAMETERS = [
    (LIST_JOBS, "q", 201),
    (LIST_JOBS, "category", 101),
    (LIST_JOBS, "location", 201),
    (LIST_JOBS, "cursor", 501),
    (DELIVERIES, "email", 255),
    (UNSUBSCRIBE_PAGE, "token", 1001),
    (UNSUBSCRIBE, "token", 1001),
]


@pytest.mark.parametrize(
    ("endpoint", "name", "length"),
    OVERLONG_PARAMETERS,
    ids=[f"{e} {n} {length}" for e, n, length in OVERLONG_PARAMETERS],
)
def test_overlong_query_parameter_is_422_naming_it(
    api: Api, endpoint: Endpoint, name: str, length: int
) -> None:
    assert_422_naming(api.call(endpoint, params={name: "x" * length}), name)


@pytest.mark.parametrize(
    ("endpoint", "name", "value"),
    [
        (GET_JOB, "job_id", "a" * 4000),
        (GET_CANDIDATE, "candidate_id", "b" * 4000),
        (RECENTLY_VIEWED, "visitor_id", "v" * 129),
    ],
    ids=["job_id", "candidate_id", "visitor_id"],
)
def test_overlong_path_parameter_is_422_naming_it(
    api: Api, endpoint: Endpoint, name: str, value: str
) -> None:
    assert_422_naming(api.call(endpoint, ids={name: value}), name)


def test_more_than_20_interests_is_422(api: Api) -> None:
    body = {**api.valid_body(SIGN_UP), "interests": [f"Interest {n}" for n in range(21)]}
    assert_422_naming(api.call(SIGN_UP, json=body), "interests")


WRONG_TYPE_VALUES = {
    "integer": "123",
    "float": "1.5",
    "huge-integer": "123456789012345678901234567890",
    "float-overflowing-to-infinity": "1e400",
    "nan": "NaN",
    "negative-infinity": "-Infinity",
    "boolean": "true",
    "object": '{"nested": "value"}',
    "array-nested-200-deep": "[" * 200 + '"x"' + "]" * 200,
}
WRONG_TYPE_FIELDS = [
    (SIGN_UP, "email"),
    (SIGN_UP, "first_name"),
    (PREFERENCES, "keywords[]"),
    (POST_JOB, "title"),
    (PATCH_JOB, "location"),
    (JOB_VIEW, "visitor_id"),
    (JOB_VIEW, "job_id"),
]


@pytest.mark.parametrize("fragment", WRONG_TYPE_VALUES.values(), ids=WRONG_TYPE_VALUES.keys())
@pytest.mark.parametrize(("endpoint", "field"), WRONG_TYPE_FIELDS, ids=field_ids(WRONG_TYPE_FIELDS))
def test_non_string_where_a_string_is_expected_is_422_naming_the_field(
    api: Api, endpoint: Endpoint, field: str, fragment: str
) -> None:
    body = api.body_with(endpoint, field, fragment)
    assert_422_naming(api.call_json(endpoint, body), field.removesuffix("[]"))


@pytest.mark.parametrize(
    "body",
    ["[" * 30_000 + "]" * 30_000, '{"first_name": ' + "9" * 5_000 + "}"],
    ids=["array-nested-30000-deep", "integer-of-5000-digits"],
)
@pytest.mark.parametrize("endpoint", [SIGN_UP, POST_JOB], ids=str)
def test_json_beyond_the_parser_limits_is_4xx_not_500(
    api: Api, endpoint: Endpoint, body: str
) -> None:
    assert len(body) < MAX_BODY_BYTES
    assert_json_error(api.call_json(endpoint, body), CLIENT_ERROR)


@pytest.mark.parametrize(
    "consent",
    ["1", "1.0", '"true"', '"yes"', '"1"', "0", "false", "null", "[true]"],
)
def test_consent_other_than_the_json_literal_true_is_422(api: Api, consent: str) -> None:
    """Consent is recorded as given: only an explicit `true` is consent, not a truthy value."""
    body = api.body_with(SIGN_UP, "consent", consent)
    assert_422_naming(api.call_json(SIGN_UP, body), "consent")


@pytest.mark.parametrize("limit", ["abc", "1e3", "1.5", "-1", "0", "99999999999999999999", ""])
@pytest.mark.parametrize("endpoint", [LIST_JOBS, RECENTLY_VIEWED], ids=str)
def test_limit_that_is_not_an_allowed_integer_is_422(
    api: Api, endpoint: Endpoint, limit: str
) -> None:
    assert_422_naming(api.call(endpoint, params={"limit": limit}), "limit")


def cursor_of(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


SOME_ID = "3f0c6a0e-5c6e-4b8e-9a0b-1f1f1f1f1f1f"
FORGED_CURSORS = {
    "not-base64": "!!!not base64!!!",
    "not-json": cursor_of("posted_at=yesterday"),
    "json-list": cursor_of("[1, 2]"),
    "json-string": cursor_of('"cursor"'),
    "missing-keys": cursor_of("{}"),
    "time-not-a-string": cursor_of(f'{{"p": 1, "j": "{SOME_ID}"}}'),
    "naive-time": cursor_of(f'{{"p": "2024-01-01T00:00:00", "j": "{SOME_ID}"}}'),
    "id-an-integer": cursor_of('{"p": "2024-01-01T00:00:00+00:00", "j": 1}'),
    "id-a-list": cursor_of('{"p": "2024-01-01T00:00:00+00:00", "j": ["a"]}'),
    "time-before-year-1-in-utc": cursor_of(
        f'{{"p": "0001-01-01T00:00:00+14:00", "j": "{SOME_ID}"}}'
    ),
    "time-after-year-9999-in-utc": cursor_of(
        f'{{"p": "9999-12-31T23:59:59-14:00", "j": "{SOME_ID}"}}'
    ),
}


@pytest.mark.parametrize("cursor", FORGED_CURSORS.values(), ids=FORGED_CURSORS.keys())
def test_cursor_the_api_never_returned_is_422(api: Api, cursor: str) -> None:
    assert_422_naming(api.call(LIST_JOBS, params={"cursor": cursor}), "cursor")


def test_view_time_outside_the_representable_range_is_422(api: Api) -> None:
    """Year 1 at +14:00 is before year 1 in UTC: no database or consumer can hold it, so the
    API must not answer 202 (a promise that the view will be projected)."""
    body = {**api.valid_body(JOB_VIEW), "viewed_at": "0001-01-01T00:00:00+14:00"}
    assert_422_naming(api.call(JOB_VIEW, json=body), "viewed_at")


@pytest.mark.parametrize(
    ("endpoint", "query"),
    [
        (LIST_JOBS, "q=%ff%fe"),
        (LIST_JOBS, "category=%ED%A0%80"),
        (DELIVERIES, "email=%ff%40example.org"),
        (UNSUBSCRIBE, "token=%ff"),
    ],
    ids=["q", "category", "email", "token"],
)
def test_undecodable_percent_escapes_in_a_query_are_not_a_500(
    api: Api, endpoint: Endpoint, query: str
) -> None:
    # A raw query string: httpx would re-encode parameters given as a mapping.
    response = api.http.request(
        endpoint.method,
        f"{api.url(endpoint)}?{query}",
        headers=ADMIN_HEADERS if endpoint.admin else {},
    )
    assert response.status_code < 500, response.text


@pytest.mark.parametrize(
    "correlation_id",
    ["x" * 5_000, b"\xff\xfe\xfd", "tab\there", "<script>alert(1)</script>", ""],
    ids=["5000-chars", "non-ascii-bytes", "tab", "markup", "empty"],
)
def test_odd_correlation_id_is_ignored(api: Api, correlation_id: str | bytes) -> None:
    response = api.call(
        SIGN_UP, json=api.valid_body(SIGN_UP), headers={"X-Correlation-ID": correlation_id}
    )
    assert response.status_code == 201, response.text
