"""Unusual text against the services as processes: valid text, however unusual, is stored and
read back exactly; text with control or bidi characters is 422 naming each field."""

import json
import uuid

import pytest

from tests.robustness.bad_input import LIST_JOBS, POST_JOB, SIGN_UP, Api

pytestmark = [pytest.mark.robustness, pytest.mark.integration]


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
