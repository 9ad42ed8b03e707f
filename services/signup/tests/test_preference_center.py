"""The preference center's API: GET /v1/preferences with a manage token, and unsubscribing with
that manage token (real PostgreSQL, Kafka)."""

import time
from unittest import mock

import httpx
import pytest

from devsupport.services import ADMIN_HEADERS
from services.signup.tests.helpers import (
    candidate,
    candidate_events_after,
    sign_up,
    sign_up_published,
    token_for,
)
from talent_shared.tokens import TokenPurpose

pytestmark = pytest.mark.integration


def manage_token(candidate_id: str) -> str:
    return token_for(candidate_id, TokenPurpose.MANAGE)


def expired_manage_token(candidate_id: str) -> str:
    a_year_ago = time.time() - 365 * 24 * 3600
    with mock.patch("itsdangerous.timed.time.time", return_value=a_year_ago):
        return manage_token(candidate_id)


def forged(token: str) -> str:
    return token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")


async def test_manage_token_shows_the_candidates_preferences(signup: httpx.AsyncClient) -> None:
    created = await sign_up(
        signup, email="jane.doe@Example.ORG", first_name="Jane", alert_frequency="weekly"
    )
    candidate_id = created["candidate_id"]
    response = await signup.get("/v1/preferences", params={"token": manage_token(candidate_id)})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "candidate_id": candidate_id,
        "email": "j***@example.org",
        "first_name": "Jane",
        "interests": ["Nursing"],
        "locations": ["Durham"],
        "keywords": ["ICU"],
        "alert_frequency": "weekly",
        "subscribed": True,
    }


async def test_preference_center_shows_changed_preferences(signup: httpx.AsyncClient) -> None:
    candidate_id = (await sign_up(signup))["candidate_id"]
    token = manage_token(candidate_id)
    changed = {
        "interests": [],
        "locations": ["Raleigh"],
        "keywords": [],
        "alert_frequency": "daily",
    }
    put = await signup.put(
        f"/v1/candidates/{candidate_id}/preferences", params={"token": token}, json=changed
    )
    assert put.status_code == 200, put.text
    shown = (await signup.get("/v1/preferences", params={"token": token})).json()
    assert {key: shown[key] for key in changed} == changed


@pytest.mark.parametrize(
    "make_token",
    [
        lambda candidate_id: forged(manage_token(candidate_id)),
        expired_manage_token,
        lambda candidate_id: token_for(candidate_id, TokenPurpose.UNSUBSCRIBE),
        lambda candidate_id: "not-a-token",
    ],
    ids=["forged", "expired", "unsubscribe-token", "garbage"],
)
async def test_preference_center_refuses_a_bad_token_with_400(
    signup: httpx.AsyncClient, make_token: object
) -> None:
    candidate_id = (await sign_up(signup))["candidate_id"]
    token = make_token(candidate_id)  # type: ignore[operator]
    response = await signup.get("/v1/preferences", params={"token": token})
    assert response.status_code == 400
    assert response.json()["detail"] == "invalid or expired manage token"


async def test_preference_center_without_token_is_422(signup: httpx.AsyncClient) -> None:
    response = await signup.get("/v1/preferences")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "token"]


async def test_preference_center_of_an_erased_candidate_is_404(signup: httpx.AsyncClient) -> None:
    candidate_id = (await sign_up(signup))["candidate_id"]
    erased = await signup.delete(f"/v1/candidates/{candidate_id}", headers=ADMIN_HEADERS)
    assert erased.status_code == 204
    response = await signup.get("/v1/preferences", params={"token": manage_token(candidate_id)})
    assert response.status_code == 404


async def test_manage_token_unsubscribes(signup: httpx.AsyncClient) -> None:
    candidate_id = (await sign_up(signup))["candidate_id"]
    token = manage_token(candidate_id)
    response = await signup.post("/v1/unsubscribe", params={"token": token})
    assert response.status_code == 200, response.text
    assert response.json() == {"candidate_id": candidate_id, "status": "unsubscribed"}
    assert (await candidate(signup, candidate_id))["status"] == "unsubscribed"
    shown = (await signup.get("/v1/preferences", params={"token": token})).json()
    assert shown["subscribed"] is False


async def test_unsubscribe_by_manage_token_is_one_click_and_idempotent_with_one_event(
    signup: httpx.AsyncClient,
) -> None:
    candidate_id = await sign_up_published(signup)
    token = manage_token(candidate_id)

    async def twice() -> None:
        for _ in range(2):
            response = await signup.post(
                "/v1/unsubscribe",
                params={"token": token},
                content="List-Unsubscribe=One-Click",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            assert response.status_code == 200, response.text

    types = await candidate_events_after(
        signup, twice, candidate_id=lambda: candidate_id, expected=1
    )
    assert types == ["CandidateUnsubscribed"]


async def test_forged_manage_token_does_not_unsubscribe(signup: httpx.AsyncClient) -> None:
    candidate_id = (await sign_up(signup))["candidate_id"]
    response = await signup.post(
        "/v1/unsubscribe", params={"token": forged(manage_token(candidate_id))}
    )
    assert response.status_code == 400
    assert (await candidate(signup, candidate_id))["status"] == "subscribed"


async def test_confirm_page_accepts_a_manage_token_and_changes_nothing(
    signup: httpx.AsyncClient,
) -> None:
    candidate_id = (await sign_up(signup))["candidate_id"]
    response = await signup.get("/v1/unsubscribe", params={"token": manage_token(candidate_id)})
    assert response.status_code == 200
    assert "<form" in response.text
    assert (await candidate(signup, candidate_id))["status"] == "subscribed"
