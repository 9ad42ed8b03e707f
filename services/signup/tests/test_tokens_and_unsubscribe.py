"""Preferences by token, one-click unsubscribe and its confirm page (real PostgreSQL, Kafka)."""

import time
import uuid
from unittest import mock

import httpx
import pytest

from devsupport.services import ADMIN_HEADERS
from services.signup.tests.helpers import (
    candidate,
    candidate_events_after,
    sign_up,
    sign_up_published,
    signup_body,
    token_for,
)
from talent_shared.tokens import TokenPurpose

pytestmark = pytest.mark.integration

NEW_PREFERENCES = {
    "interests": ["Research"],
    "locations": ["Raleigh"],
    "keywords": [],
    "alert_frequency": "daily",
}


def expired(candidate_id: str, purpose: TokenPurpose) -> str:
    three_years_ago = time.time() - 3 * 365 * 24 * 3600
    with mock.patch("itsdangerous.timed.time.time", return_value=three_years_ago):
        return token_for(candidate_id, purpose)


def forged(token: str) -> str:
    return token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")


async def test_admin_replaces_preferences(signup: httpx.AsyncClient) -> None:
    created = await sign_up(signup)
    response = await signup.put(
        f"/v1/candidates/{created['candidate_id']}/preferences",
        json=NEW_PREFERENCES,
        headers=ADMIN_HEADERS,
    )
    assert response.status_code == 200
    assert response.json() == NEW_PREFERENCES
    assert (await candidate(signup, created["candidate_id"]))["preferences"] == NEW_PREFERENCES


async def test_manage_token_replaces_own_preferences_and_emits_event(
    signup: httpx.AsyncClient,
) -> None:
    candidate_id = await sign_up_published(signup)

    async def change() -> None:
        response = await signup.put(
            f"/v1/candidates/{candidate_id}/preferences",
            params={"token": token_for(candidate_id, TokenPurpose.MANAGE)},
            json=NEW_PREFERENCES,
        )
        assert response.status_code == 200

    types = await candidate_events_after(
        signup, change, candidate_id=lambda: candidate_id, expected=1
    )
    assert types == ["CandidatePreferencesChanged"]


async def test_manage_token_of_another_candidate_is_403(signup: httpx.AsyncClient) -> None:
    mine, theirs = (await sign_up(signup))["candidate_id"], (await sign_up(signup))["candidate_id"]
    response = await signup.put(
        f"/v1/candidates/{theirs}/preferences",
        params={"token": token_for(mine, TokenPurpose.MANAGE)},
        json=NEW_PREFERENCES,
    )
    assert response.status_code == 403


async def test_preferences_without_any_credential_are_401(signup: httpx.AsyncClient) -> None:
    candidate_id = (await sign_up(signup))["candidate_id"]
    response = await signup.put(f"/v1/candidates/{candidate_id}/preferences", json=NEW_PREFERENCES)
    assert response.status_code == 401


@pytest.mark.parametrize("body", [b"{not json", b'{"alert_frequency": "hourly"}', b""])
async def test_preferences_without_credentials_are_401_whatever_the_body(
    signup: httpx.AsyncClient, body: bytes
) -> None:
    candidate_id = (await sign_up(signup))["candidate_id"]
    response = await signup.put(
        f"/v1/candidates/{candidate_id}/preferences",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 401


async def test_preferences_with_a_forged_token_are_400_whatever_the_body(
    signup: httpx.AsyncClient,
) -> None:
    candidate_id = (await sign_up(signup))["candidate_id"]
    response = await signup.put(
        f"/v1/candidates/{candidate_id}/preferences",
        params={"token": forged(token_for(candidate_id, TokenPurpose.MANAGE))},
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400


@pytest.mark.parametrize("kind", ["forged", "expired", "unsubscribe purpose"])
async def test_bad_manage_token_is_400_and_changes_nothing(
    signup: httpx.AsyncClient, kind: str
) -> None:
    candidate_id = (await sign_up(signup))["candidate_id"]
    token = {
        "forged": forged(token_for(candidate_id, TokenPurpose.MANAGE)),
        "expired": expired(candidate_id, TokenPurpose.MANAGE),
        "unsubscribe purpose": token_for(candidate_id, TokenPurpose.UNSUBSCRIBE),
    }[kind]
    before = (await candidate(signup, candidate_id))["preferences"]
    response = await signup.put(
        f"/v1/candidates/{candidate_id}/preferences", params={"token": token}, json=NEW_PREFERENCES
    )
    assert response.status_code == 400
    assert (await candidate(signup, candidate_id))["preferences"] == before


async def test_one_click_unsubscribe_is_200_and_stops_alerts(signup: httpx.AsyncClient) -> None:
    candidate_id = (await sign_up(signup))["candidate_id"]
    response = await signup.post(
        "/v1/unsubscribe",
        params={"token": token_for(candidate_id, TokenPurpose.UNSUBSCRIBE)},
        content=b"List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert response.json()["status"] == "unsubscribed"
    body = await candidate(signup, candidate_id)
    assert body["status"] == "unsubscribed"
    assert body["unsubscribed_at"]


async def test_unsubscribe_is_idempotent_with_one_event(signup: httpx.AsyncClient) -> None:
    candidate_id = await sign_up_published(signup)
    token = token_for(candidate_id, TokenPurpose.UNSUBSCRIBE)

    async def twice() -> None:
        for _ in range(2):
            response = await signup.post("/v1/unsubscribe", params={"token": token})
            assert response.status_code == 200

    types = await candidate_events_after(
        signup, twice, candidate_id=lambda: candidate_id, expected=1
    )
    assert types == ["CandidateUnsubscribed"]


async def test_browser_confirmation_gets_an_html_answer(signup: httpx.AsyncClient) -> None:
    candidate_id = (await sign_up(signup))["candidate_id"]
    response = await signup.post(
        "/v1/unsubscribe",
        params={"token": token_for(candidate_id, TokenPurpose.UNSUBSCRIBE)},
        headers={"accept": "text/html"},
    )
    assert response.status_code == 200
    assert "You are unsubscribed" in response.text


@pytest.mark.parametrize("kind", ["forged", "expired", "expired manage", "garbage"])
async def test_bad_unsubscribe_token_is_400_and_changes_nothing(
    signup: httpx.AsyncClient, kind: str
) -> None:
    candidate_id = (await sign_up(signup))["candidate_id"]
    token = {
        "forged": forged(token_for(candidate_id, TokenPurpose.UNSUBSCRIBE)),
        "expired": expired(candidate_id, TokenPurpose.UNSUBSCRIBE),
        # A manage token may unsubscribe too (the preference center's button), while valid.
        "expired manage": expired(candidate_id, TokenPurpose.MANAGE),
        "garbage": "not-a-token",
    }[kind]
    response = await signup.post("/v1/unsubscribe", params={"token": token})
    assert response.status_code == 400
    assert (await candidate(signup, candidate_id))["status"] == "subscribed"


async def test_unsubscribe_without_token_is_422(signup: httpx.AsyncClient) -> None:
    response = await signup.post("/v1/unsubscribe")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "token"]


async def test_following_the_link_shows_a_confirm_form_and_changes_nothing(
    signup: httpx.AsyncClient,
) -> None:
    candidate_id = await sign_up_published(signup)
    token = token_for(candidate_id, TokenPurpose.UNSUBSCRIBE)

    async def follow_link() -> None:
        response = await signup.get("/v1/unsubscribe", params={"token": token})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        assert '<form method="post" action="/v1/unsubscribe?token=' in response.text

    types = await candidate_events_after(
        signup, follow_link, candidate_id=lambda: candidate_id, expected=0, timeout=3
    )
    assert types == []
    assert (await candidate(signup, candidate_id))["status"] == "subscribed"


async def test_following_a_forged_link_is_400(signup: httpx.AsyncClient) -> None:
    response = await signup.get("/v1/unsubscribe", params={"token": "forged"})
    assert response.status_code == 400
    assert "not valid" in response.text


async def test_signing_up_again_after_unsubscribing_leaves_the_candidate_unsubscribed(
    signup: httpx.AsyncClient,
) -> None:
    body = signup_body()
    candidate_id = (await sign_up(signup, email=body["email"]))["candidate_id"]
    await signup.post(
        "/v1/unsubscribe", params={"token": token_for(candidate_id, TokenPurpose.UNSUBSCRIBE)}
    )
    again = await signup.post("/v1/signups", json=body)
    assert (again.status_code, again.json()["status"]) == (200, "pending")
    assert (await candidate(signup, candidate_id))["status"] == "unsubscribed"


async def test_unsubscribe_of_a_candidate_that_never_existed_is_404(
    signup: httpx.AsyncClient,
) -> None:
    token = token_for(str(uuid.uuid4()), TokenPurpose.UNSUBSCRIBE)
    assert (await signup.post("/v1/unsubscribe", params={"token": token})).status_code == 404
