"""Hand-written bad input against the three services running as processes: each test names the
one behaviour it checks. The contract: invalid bodies give 422 naming the field, bodies over 64 KiB
413, unknown paths and ids 404, every error is JSON `{"detail": ...}`, and no request ever
produces a 500. Text that is valid, however unusual, is stored and read back exactly.
"""

import base64
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from devsupport.services import ADMIN_HEADERS
from tests.robustness.stack import SERVICES, ProcessStack, process_stack

pytestmark = [pytest.mark.robustness, pytest.mark.integration]

MAX_BODY_BYTES = 64 * 1024
JSON_CONTENT = {"Content-Type": "application/json"}
VALUE = "__value__"


@dataclass(frozen=True)
class Endpoint:
    service: str
    method: str
    path: str  # may name {candidate_id} or {job_id}: ids that exist
    admin: bool = False

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


SIGN_UP = Endpoint("signup", "POST", "/v1/signups")
GET_CANDIDATE = Endpoint("signup", "GET", "/v1/candidates/{candidate_id}", admin=True)
PREFERENCES = Endpoint("signup", "PUT", "/v1/candidates/{candidate_id}/preferences", admin=True)
ERASE = Endpoint("signup", "DELETE", "/v1/candidates/{candidate_id}", admin=True)
UNSUBSCRIBE_PAGE = Endpoint("signup", "GET", "/v1/unsubscribe")
UNSUBSCRIBE = Endpoint("signup", "POST", "/v1/unsubscribe")
POST_JOB = Endpoint("jobs", "POST", "/v1/jobs", admin=True)
LIST_JOBS = Endpoint("jobs", "GET", "/v1/jobs")
GET_JOB = Endpoint("jobs", "GET", "/v1/jobs/{job_id}")
PATCH_JOB = Endpoint("jobs", "PATCH", "/v1/jobs/{job_id}", admin=True)
CLOSE_JOB = Endpoint("jobs", "POST", "/v1/jobs/{job_id}/close", admin=True)
JOB_VIEW = Endpoint("jobs", "POST", "/v1/job-views")
RECENTLY_VIEWED = Endpoint("jobs", "GET", "/v1/visitors/{visitor_id}/recently-viewed")
DELIVERIES = Endpoint("notifications", "GET", "/v1/deliveries", admin=True)

JSON_ENDPOINTS = [SIGN_UP, PREFERENCES, POST_JOB, PATCH_JOB, JOB_VIEW]


class Api:
    """An HTTP client to the running stack that knows one existing candidate and one job.

    Every request opens a connection of its own: after a 500 uvicorn closes the connection,
    and a reused one would fail the next, innocent request.
    """

    def __init__(self, services: ProcessStack) -> None:
        self.services = services
        self.http = httpx.Client(timeout=15, limits=httpx.Limits(max_keepalive_connections=0))
        self.ids = {"candidate_id": "", "job_id": "", "visitor_id": "robustness-visitor"}
        self.ids["candidate_id"] = self.sign_up_json(self.valid_body(SIGN_UP))["candidate_id"]
        job = self.call(POST_JOB, json=self.valid_body(POST_JOB))
        assert job.status_code == 201, job.text
        self.ids["job_id"] = job.json()["job_id"]

    def url(self, endpoint: Endpoint, **ids: str) -> str:
        return self.services.url(endpoint.service) + endpoint.path.format(**{**self.ids, **ids})

    def call(
        self, endpoint: Endpoint, *, headers: dict[str, Any] | None = None, **kwargs: Any
    ) -> httpx.Response:
        sent = {**(ADMIN_HEADERS if endpoint.admin else {}), **(headers or {})}
        ids = kwargs.pop("ids", {})
        return self.http.request(endpoint.method, self.url(endpoint, **ids), headers=sent, **kwargs)

    def call_json(self, endpoint: Endpoint, body: bytes | str, **kwargs: Any) -> httpx.Response:
        """Send ``body`` exactly as given, as a JSON request body."""
        return self.call(endpoint, content=body, headers=JSON_CONTENT, **kwargs)

    def valid_body(self, endpoint: Endpoint) -> dict[str, Any]:
        if endpoint == SIGN_UP:
            return {
                "email": f"robust-{uuid.uuid4().hex[:12]}@example.org",
                "first_name": "Grace",
                "last_name": "Hopper",
                "interests": ["Nursing"],
                "locations": ["Durham"],
                "keywords": ["ICU"],
                "alert_frequency": "weekly",
                "consent": True,
            }
        if endpoint == PREFERENCES:
            return {"interests": [], "locations": [], "keywords": [], "alert_frequency": "daily"}
        if endpoint == POST_JOB:
            return {
                "title": "Registered Nurse",
                "category": "Nursing",
                "location": "Durham, NC",
                "description": "Night shift on a medical unit.",
            }
        if endpoint == PATCH_JOB:
            return {"description": "Day shift on a medical unit."}
        if endpoint == JOB_VIEW:
            return {"visitor_id": "robustness-visitor", "job_id": self.ids["job_id"]}
        raise AssertionError(f"{endpoint} takes no JSON body")

    def body_with(self, endpoint: Endpoint, field: str, fragment: str) -> str:
        """A valid body of ``endpoint`` whose ``field`` (``name[]``: its one list item) is the
        raw JSON text ``fragment``."""
        body = self.valid_body(endpoint)
        name = field.removesuffix("[]")
        body[name] = [VALUE] if field.endswith("[]") else VALUE
        return json.dumps(body).replace(json.dumps(VALUE), fragment)

    def sign_up_json(self, body: dict[str, Any]) -> dict[str, Any]:
        response = self.call(SIGN_UP, json=body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def candidate(self, candidate_id: str) -> dict[str, Any]:
        response = self.call(GET_CANDIDATE, ids={"candidate_id": candidate_id})
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    def post_job(self, **fields: str) -> dict[str, Any]:
        response = self.call(POST_JOB, json={**self.valid_body(POST_JOB), **fields})
        assert response.status_code == 201, response.text
        job: dict[str, Any] = response.json()
        return job

    def job(self, job_id: str) -> dict[str, Any]:
        response = self.call(GET_JOB, ids={"job_id": job_id})
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    def close(self) -> None:
        self.http.close()


@pytest.fixture(scope="module")
async def services(
    infrastructure: None, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ProcessStack]:
    async with process_stack(tmp_path_factory.mktemp("bad-input-logs")) as stack:
        yield stack


@pytest.fixture(scope="module")
def api(services: ProcessStack) -> Iterator[Api]:
    client = Api(services)
    try:
        yield client
    finally:
        client.close()


def assert_json_error(response: httpx.Response, status: int | range) -> None:
    """The status (or one of a range), and a JSON body `{"detail": ...}`: never a 500."""
    expected = status if isinstance(status, range) else range(status, status + 1)
    assert response.status_code in expected, f"{response.status_code}: {response.text[:2000]}"
    assert response.headers["content-type"].startswith("application/json"), response.headers
    assert "detail" in response.json(), response.text


def assert_422_naming(response: httpx.Response, field: str) -> None:
    assert_json_error(response, 422)
    errors = response.json()["detail"]
    assert any(field in error["loc"] for error in errors), errors


CLIENT_ERROR = range(400, 500)

# --------------------------------------------------------------------------- malformed bodies

MALFORMED_JSON = [
    "{",
    '{"title": }',
    "not json",
    "[1, 2",
    '{"a": 1,}',
    "{'single': 'quotes'}",
    '{"unterminated": "string}',
    '{"a" 1}',
]


@pytest.mark.parametrize("body", MALFORMED_JSON)
@pytest.mark.parametrize("endpoint", JSON_ENDPOINTS, ids=str)
def test_malformed_json_is_422(api: Api, endpoint: Endpoint, body: str) -> None:
    assert_json_error(api.call_json(endpoint, body), 422)


@pytest.mark.parametrize("endpoint", JSON_ENDPOINTS, ids=str)
def test_json_body_that_is_not_utf8_is_422(api: Api, endpoint: Endpoint) -> None:
    """JSON text is UTF-8 (RFC 8259): other bytes make a malformed body, 422 like any other."""
    assert_json_error(api.call_json(endpoint, b'{"title": "caf\xe9 \xff\xfe"}'), 422)


MULTIPART_BODY = '--xyz\r\nContent-Disposition: form-data; name="title"\r\n\r\nNurse\r\n--xyz--\r\n'


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", '{"title": "Nurse"}'),
        ("application/x-www-form-urlencoded", "title=Nurse&category=Nursing"),
        ("multipart/form-data; boundary=xyz", MULTIPART_BODY),
        ("application/xml", "<job><title>Nurse</title></job>"),
    ],
    ids=["text", "form", "multipart", "xml"],
)
@pytest.mark.parametrize("endpoint", JSON_ENDPOINTS, ids=str)
def test_wrong_content_type_is_4xx(
    api: Api, endpoint: Endpoint, content_type: str, body: str
) -> None:
    response = api.call(endpoint, content=body, headers={"Content-Type": content_type})
    assert_json_error(response, CLIENT_ERROR)


# --------------------------------------------------------------------------- body size


def oversized_body() -> bytes:
    body = json.dumps({"title": "x" * (MAX_BODY_BYTES + 1024)}).encode()
    assert len(body) > MAX_BODY_BYTES
    return body


def in_chunks(body: bytes, size: int = 4096) -> Iterator[bytes]:
    """A streamed body: httpx sends it chunked, with no Content-Length to reject it early."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


@pytest.mark.parametrize("endpoint", JSON_ENDPOINTS, ids=str)
def test_body_over_64_kib_with_declared_length_is_413(api: Api, endpoint: Endpoint) -> None:
    response = api.call(endpoint, content=oversized_body(), headers=JSON_CONTENT)
    assert_json_error(response, 413)


@pytest.mark.parametrize("endpoint", JSON_ENDPOINTS, ids=str)
def test_body_over_64_kib_sent_chunked_is_413(api: Api, endpoint: Endpoint) -> None:
    request = api.http.build_request(
        endpoint.method,
        api.url(endpoint),
        content=in_chunks(oversized_body()),
        headers={**JSON_CONTENT, **(ADMIN_HEADERS if endpoint.admin else {})},
    )
    assert "content-length" not in request.headers
    assert request.headers["transfer-encoding"] == "chunked"
    assert_json_error(api.http.send(request), 413)


def test_body_of_exactly_64_kib_is_accepted(api: Api) -> None:
    body = json.dumps(api.valid_body(SIGN_UP)).encode()
    padded = body[:-1] + b" " * (MAX_BODY_BYTES - len(body)) + b"}"
    assert len(padded) == MAX_BODY_BYTES
    assert api.call_json(SIGN_UP, padded).status_code == 201


# --------------------------------------------------------------------------- unusual text

UNICODE_TEXTS = {
    # woman health worker (skin tone, ZWJ, VS16), hospital, mending heart (ZWJ)
    "emoji-zwj-sequence": (
        "\U0001f469\U0001f3fd\u200d\u2695\ufe0f Nurse \U0001f3e5 \u2764\ufe0f\u200d\U0001fa79"
    ),
    "arabic-rtl": "ممرضة مسجلة \u2013 قسم الطوارئ",
    "combining-marks": "Zoe\u0308 Ange\u0301lique n\u0303",  # must not come back NFC-normalised
    "cjk": "看护师 / 간호사 / 看護師",
    "astral-plane": "\U0001d511\U0001d532\U0001d52f\U0001d530\U0001d522 \U0001d7d9 \U0001f600",
    "zero-width-and-bom-inside": "a\u200bb\u200dc\ufeffd\u2060e",
}
# Refused at the edge (contract: text that reaches an inbox or a page): each field is named.
REFUSED_TEXTS = {
    "hebrew-with-bidi-override": "אחות \u202edesrever\u202c end",
    "control-characters-inside": "line\nbreak\ttab\rreturn\x1bescape",
    "line-separator": "first\u2028second",
    "next-line-c1": "first\x85second",
}


@pytest.mark.parametrize("text", UNICODE_TEXTS.values(), ids=UNICODE_TEXTS.keys())
def test_unicode_in_a_sign_up_is_stored_and_read_back_verbatim(api: Api, text: str) -> None:
    body = {**api.valid_body(SIGN_UP), "first_name": text, "last_name": text, "interests": [text]}
    candidate = api.candidate(api.sign_up_json(body)["candidate_id"])
    assert (candidate["first_name"], candidate["last_name"]) == (text, text)
    assert candidate["preferences"]["interests"] == [text]


@pytest.mark.parametrize("text", UNICODE_TEXTS.values(), ids=UNICODE_TEXTS.keys())
def test_unicode_in_a_job_is_stored_and_read_back_verbatim(api: Api, text: str) -> None:
    job = api.job(
        api.post_job(title=text, category=text, location=text, description=text)["job_id"]
    )
    assert [job[field] for field in ("title", "category", "location", "description")] == [text] * 4


@pytest.mark.parametrize("text", REFUSED_TEXTS.values(), ids=REFUSED_TEXTS.keys())
def test_control_and_bidi_characters_in_a_sign_up_are_422_naming_each_field(
    api: Api, text: str
) -> None:
    body = {**api.valid_body(SIGN_UP), "first_name": text, "last_name": text, "interests": [text]}
    response = api.call_json(SIGN_UP, json.dumps(body).encode())
    assert response.status_code == 422
    named = {tuple(error["loc"]) for error in response.json()["detail"]}
    assert named == {("body", "first_name"), ("body", "last_name"), ("body", "interests", 0)}


@pytest.mark.parametrize("text", REFUSED_TEXTS.values(), ids=REFUSED_TEXTS.keys())
def test_control_and_bidi_characters_in_a_job_are_422_naming_each_field(
    api: Api, text: str
) -> None:
    fields = {"title": text, "category": text, "location": text, "description": text}
    response = api.call_json(POST_JOB, json.dumps(api.valid_body(POST_JOB) | fields).encode())
    assert response.status_code == 422
    named = {tuple(error["loc"]) for error in response.json()["detail"]}
    assert named == {("body", field) for field in fields}


def test_line_breaks_and_tabs_in_a_job_description_are_kept(api: Api) -> None:
    description = "Nights:\n\t- ICU\r\n\t- ER"
    job = api.job(api.post_job(description=description)["job_id"])
    assert job["description"] == description


SQL_LOOKING = {
    "drop-table": "'; DROP TABLE candidates;--",
    "bobby-tables": "Robert'); DROP TABLE jobs;--",
    "always-true": '" OR "1"="1',
    "stacked-sleep": "1; SELECT pg_sleep(10)--",
    "like-wildcards-and-backslash": "100% _match_ \\ end",
    "placeholders": "$1 $2 %s :name ?",
    "dollar-quote": "$$; DELETE FROM jobs; $$",
    "escape-string": "E'\\x41' U&'\\0041'",
}


@pytest.mark.parametrize("text", SQL_LOOKING.values(), ids=SQL_LOOKING.keys())
def test_sql_looking_text_in_a_sign_up_is_stored_and_read_back_verbatim(
    api: Api, text: str
) -> None:
    body = {**api.valid_body(SIGN_UP), "first_name": text, "last_name": text, "keywords": [text]}
    candidate = api.candidate(api.sign_up_json(body)["candidate_id"])
    assert (candidate["first_name"], candidate["last_name"]) == (text, text)
    assert candidate["preferences"]["keywords"] == [text]


@pytest.mark.parametrize("text", SQL_LOOKING.values(), ids=SQL_LOOKING.keys())
def test_sql_looking_text_in_a_job_is_stored_and_read_back_verbatim(api: Api, text: str) -> None:
    job = api.job(
        api.post_job(title=text, category=text, location=text, description=text)["job_id"]
    )
    assert [job[field] for field in ("title", "category", "location", "description")] == [text] * 4


@pytest.mark.parametrize("text", SQL_LOOKING.values(), ids=SQL_LOOKING.keys())
def test_sql_looking_search_filters_are_plain_text(api: Api, text: str) -> None:
    job_id = api.post_job(category=text, location=f"Ward {text} East")["job_id"]
    for filters in ({"category": text}, {"location": text}, {"q": text}):
        response = api.call(LIST_JOBS, params={**filters, "limit": 100})
        assert response.status_code == 200, response.text
        if "q" not in filters:  # full-text search may drop punctuation-only words
            assert job_id in [job["job_id"] for job in response.json()["items"]], filters


def test_like_wildcards_in_a_location_filter_match_literally(api: Api) -> None:
    marker = uuid.uuid4().hex[:8]
    literal = api.post_job(location=f"Cary {marker} 100%_remote")["job_id"]
    api.post_job(location=f"Cary {marker} 1000 remote")  # would match an unescaped %_ pattern
    response = api.call(LIST_JOBS, params={"location": f"{marker} 100%_", "limit": 100})
    assert response.status_code == 200, response.text
    assert [job["job_id"] for job in response.json()["items"]] == [literal]


# Valid inputs at their documented maximum length are kept whole.
def test_longest_allowed_job_text_is_stored_whole(api: Api) -> None:
    title, description = "T" * 199 + "🏥", "d" * 19_999 + "é"
    job = api.job(api.post_job(title=title, description=description)["job_id"])
    assert (job["title"], job["description"]) == (title, description)


# --------------------------------------------------------------------------- invalid values

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


# --------------------------------------------------------------------------- unknown things


@pytest.mark.parametrize("path", ["/nope", "/v1/nope", "/v1/jobs/a/b/c", "/v1/", "/%ff"])
@pytest.mark.parametrize("service", SERVICES)
def test_unknown_path_is_404_json(api: Api, service: str, path: str) -> None:
    response = api.http.get(api.services.url(service) + path, headers=ADMIN_HEADERS)
    assert_json_error(response, 404)
    assert isinstance(response.json()["detail"], str)


@pytest.mark.parametrize(
    "endpoint",
    [
        Endpoint("signup", "PUT", "/v1/signups"),
        Endpoint("jobs", "DELETE", "/v1/jobs", admin=True),
        Endpoint("notifications", "POST", "/v1/deliveries", admin=True),
    ],
    ids=str,
)
def test_unsupported_method_is_405_json(api: Api, endpoint: Endpoint) -> None:
    assert_json_error(api.call(endpoint), 405)


ID_ENDPOINTS = [GET_CANDIDATE, PREFERENCES, ERASE, GET_JOB, PATCH_JOB, CLOSE_JOB]


@pytest.mark.parametrize("endpoint", ID_ENDPOINTS, ids=str)
def test_unknown_id_is_404_json(api: Api, endpoint: Endpoint) -> None:
    unknown = str(uuid.uuid4())
    body = api.valid_body(endpoint) if endpoint in JSON_ENDPOINTS else None
    response = api.call(endpoint, json=body, ids={"candidate_id": unknown, "job_id": unknown})
    assert_json_error(response, 404)
    assert unknown in response.json()["detail"]


def test_job_view_of_an_unknown_job_is_404_json(api: Api) -> None:
    body = {**api.valid_body(JOB_VIEW), "job_id": str(uuid.uuid4())}
    assert_json_error(api.call(JOB_VIEW, json=body), 404)


@pytest.mark.parametrize("endpoint", ID_ENDPOINTS, ids=str)
def test_malformed_id_is_422_naming_it(api: Api, endpoint: Endpoint) -> None:
    body = api.valid_body(endpoint) if endpoint in JSON_ENDPOINTS else None
    ids = {"candidate_id": "not-a-uuid", "job_id": "not-a-uuid"}
    name = "candidate_id" if endpoint.service == "signup" else "job_id"
    assert_422_naming(api.call(endpoint, json=body, ids=ids), name)
