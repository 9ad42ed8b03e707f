"""POST /v1/signups and the admin read, on the real PostgreSQL and Kafka broker."""

import asyncio
import json

import asyncpg
import httpx
import pytest

from devsupport.services import ADMIN_HEADERS
from services.signup.tests.helpers import (
    candidate,
    candidate_events_after,
    new_email,
    sign_up,
    signup_body,
)

pytestmark = pytest.mark.integration


async def test_new_email_is_201_subscribed(signup: httpx.AsyncClient) -> None:
    response = await signup.post("/v1/signups", json=signup_body())
    assert response.status_code == 201
    assert response.json()["status"] == "subscribed"


async def test_same_email_again_in_other_case_is_200_with_same_id(
    signup: httpx.AsyncClient,
) -> None:
    email = new_email()
    first = await sign_up(signup, email=email)
    again = await signup.post("/v1/signups", json=signup_body(email=f"  {email.upper()} "))
    assert again.status_code == 200
    assert again.json()["candidate_id"] == first["candidate_id"]


@pytest.mark.parametrize("repeat", [False, True], ids=["new", "repeat"])
async def test_sign_up_answers_alike_whichever_json_media_type_it_comes_as(
    signup: httpx.AsyncClient, repeat: bool
) -> None:
    """application/json takes the fast path; any other JSON type FastAPI's own handler."""
    answers = []
    for media_type in ("application/json", "application/vnd.signup+json"):
        email = new_email()
        if repeat:
            await sign_up(signup, email=email)
        body = json.dumps(signup_body(email=email))
        response = await signup.post(
            "/v1/signups", content=body, headers={"Content-Type": media_type}
        )
        answers.append((response.status_code, response.headers["content-type"], response.json()))
    assert [(code, kind, sorted(body)) for code, kind, body in answers] == [
        (200 if repeat else 201, "application/json", ["candidate_id", "status"])
    ] * 2
    expected = "pending" if repeat else "subscribed"  # a repeat waits for its email's link
    assert answers[0][2]["status"] == answers[1][2]["status"] == expected


async def test_repeat_sign_up_changes_nothing(signup: httpx.AsyncClient) -> None:
    email = new_email()
    first = await sign_up(signup, email=email, interests=["Nursing"], alert_frequency="instant")
    before = await candidate(signup, first["candidate_id"])
    again = await signup.post(
        "/v1/signups",
        json=signup_body(
            email=email.upper(),
            first_name="Visit evil.example.com now",
            phone="+1 555 0100",
            interests=["Pharmacy"],
            alert_frequency="weekly",
        ),
    )
    assert (again.status_code, again.json()["status"]) == (200, "pending")
    assert await candidate(signup, first["candidate_id"]) == before


async def test_new_then_repeat_emits_one_signed_up_event(signup: httpx.AsyncClient) -> None:
    email = new_email()
    created: dict[str, str] = {}

    async def twice() -> None:
        created.update(await sign_up(signup, email=email))
        await signup.post("/v1/signups", json=signup_body(email=email))

    types = await candidate_events_after(
        signup, twice, candidate_id=lambda: created["candidate_id"], expected=2
    )
    assert types == ["CandidateSignedUp", "CandidateSignupRepeated"]


async def test_twenty_concurrent_sign_ups_of_one_email_make_one_candidate(
    signup: httpx.AsyncClient, signup_database: str
) -> None:
    email = new_email()
    responses: list[httpx.Response] = []

    async def concurrently() -> None:
        responses.extend(
            await asyncio.gather(
                *(signup.post("/v1/signups", json=signup_body(email=email)) for _ in range(20))
            )
        )

    types = await candidate_events_after(
        signup,
        concurrently,
        candidate_id=lambda: responses[0].json()["candidate_id"],
        expected=20,
    )
    ids = {response.json()["candidate_id"] for response in responses}
    assert len(ids) == 1
    assert sorted(r.status_code for r in responses) == [200] * 19 + [201]
    assert types.count("CandidateSignedUp") == 1
    connection = await asyncpg.connect(signup_database)
    try:
        count = await connection.fetchval(
            "SELECT count(*) FROM candidates WHERE email_key = lower($1)", email
        )
    finally:
        await connection.close()
    assert count == 1


async def test_email_is_trimmed_and_its_domain_lower_cased(signup: httpx.AsyncClient) -> None:
    local = f"Ada.{new_email().split('@')[0]}"
    created = await sign_up(signup, email=f"  {local}@Example.ORG ")
    assert (await candidate(signup, created["candidate_id"]))["email"] == f"{local}@example.org"


async def test_admin_read_shows_the_consent_record(signup: httpx.AsyncClient) -> None:
    created = await sign_up(signup, visitor_id="visitor-42")
    body = await candidate(signup, created["candidate_id"])
    [consent] = body["consents"]
    assert consent["source"] == "form"
    assert consent["text_version"]
    assert consent["visitor_id"] == "visitor-42"
    assert consent["given_at"]


async def test_repeat_sign_up_adds_no_consent_record(signup: httpx.AsyncClient) -> None:
    email = new_email()
    created = await sign_up(signup, email=email)
    await signup.post("/v1/signups", json=signup_body(email=email, interests=["Pharmacy"]))
    assert len((await candidate(signup, created["candidate_id"]))["consents"]) == 1


async def test_admin_read_needs_the_token(signup: httpx.AsyncClient) -> None:
    created = await sign_up(signup)
    response = await signup.get(f"/v1/candidates/{created['candidate_id']}")
    assert response.status_code == 401


async def test_unknown_candidate_is_404(signup: httpx.AsyncClient) -> None:
    response = await signup.get(
        "/v1/candidates/00000000-0000-0000-0000-000000000000", headers=ADMIN_HEADERS
    )
    assert response.status_code == 404


async def test_repeated_terms_are_kept_once(signup: httpx.AsyncClient) -> None:
    created = await sign_up(signup, interests=["Nursing", "nursing", " Pharmacy "])
    preferences = (await candidate(signup, created["candidate_id"]))["preferences"]
    assert preferences["interests"] == ["Nursing", "Pharmacy"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@b"}, "email"),
        ({"email": ""}, "email"),
        ({"email": "x" * 250 + "@example.org"}, "email"),
        ({"first_name": ""}, "first_name"),
        ({"first_name": "   "}, "first_name"),
        ({"last_name": "x" * 101}, "last_name"),
        ({"consent": False}, "consent"),
        ({"consent": "yes"}, "consent"),
        ({"alert_frequency": "hourly"}, "alert_frequency"),
        ({"interests": ["x"] * 21}, "interests"),
        ({"keywords": ["x" * 101]}, 0),
        ({"keywords": "ICU"}, "keywords"),
        ({"phone": "call me"}, "phone"),
        ({"visitor_id": "has spaces"}, "visitor_id"),
        ({"favourite_colour": "blue"}, "favourite_colour"),
    ],
)
async def test_bad_input_is_422_naming_the_field(
    signup: httpx.AsyncClient, fields: dict[str, object], field: str | int
) -> None:
    response = await signup.post("/v1/signups", json=signup_body(**fields))
    assert response.status_code == 422
    assert field in [error["loc"][-1] for error in response.json()["detail"]]


@pytest.mark.parametrize("missing", ["email", "first_name", "last_name", "consent"])
async def test_missing_required_field_is_422_naming_it(
    signup: httpx.AsyncClient, missing: str
) -> None:
    body = signup_body()
    del body[missing]
    response = await signup.post("/v1/signups", json=body)
    assert response.status_code == 422
    assert ["body", missing] in [error["loc"] for error in response.json()["detail"]]


@pytest.mark.parametrize(
    "name", ["Robert'); DROP TABLE candidates;--", "Zoë Ångström", "李小龍", "\U0001f600"]
)
async def test_unusual_names_are_stored_as_given(signup: httpx.AsyncClient, name: str) -> None:
    created = await sign_up(signup, first_name=name)
    assert (await candidate(signup, created["candidate_id"]))["first_name"] == name


async def test_body_that_is_not_json_is_422(signup: httpx.AsyncClient) -> None:
    response = await signup.post(
        "/v1/signups", content=b"email=a@b.org", headers={"content-type": "text/plain"}
    )
    assert response.status_code == 422


async def test_non_ascii_local_part_is_422(signup: httpx.AsyncClient) -> None:
    response = await signup.post("/v1/signups", json=signup_body(email="zoë@example.org"))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "email"]


async def test_internationalised_domain_is_kept_in_ascii_form(signup: httpx.AsyncClient) -> None:
    local = new_email().split("@")[0]
    created = await sign_up(signup, email=f"{local}@Bücher.example")
    stored = (await candidate(signup, created["candidate_id"]))["email"]
    assert stored == f"{local}@xn--bcher-kva.example"
