"""Who may change a membership (real PostgreSQL and Kafka): a sign-up for a taken address
changes nothing and asks that address, by email, to confirm; only the email's link applies the
changes, once."""

import json
import uuid
from typing import Any

import httpx
import pytest

from devsupport.services import ADMIN_HEADERS
from services.signup.tests.helpers import (
    candidate,
    candidate_events_after,
    new_email,
    sign_up_published,
    signup_body,
    token_for,
)
from talent_shared.events import CANDIDATES_TOPIC
from talent_shared.settings import DEVELOPMENT_TOKEN_SECRET
from talent_shared.tokens import TokenPurpose, make_token
from tests.support.kafka import read_until, topic_reader

pytestmark = pytest.mark.integration

CHANGES = {"first_name": "Grace", "interests": ["Pharmacy"], "alert_frequency": "weekly"}


async def request_changes(signup: httpx.AsyncClient, email: str, **fields: Any) -> str:
    """Sign up again with ``email`` and ``fields``; the change token its email would carry."""
    async with topic_reader(CANDIDATES_TOPIC) as reader:
        response = await signup.post("/v1/signups", json=signup_body(email=email, **fields))
        assert (response.status_code, response.json()["status"]) == (200, "pending")
        records = await read_until(
            reader, lambda r: dict(r.headers)["event_type"] == b"CandidateChangeRequested"
        )
    change_id = json.loads(records[-1].value)["data"]["change_id"]
    return make_token(DEVELOPMENT_TOKEN_SECRET, TokenPurpose.CHANGE, uuid.UUID(change_id))


async def test_repeat_sign_up_with_changes_emits_one_change_request(
    signup: httpx.AsyncClient,
) -> None:
    email = new_email()
    candidate_id = await sign_up_published(signup, email=email)

    async def twice() -> None:
        for _ in range(2):
            await signup.post("/v1/signups", json=signup_body(email=email, **CHANGES))

    types = await candidate_events_after(
        signup, twice, candidate_id=lambda: candidate_id, expected=1
    )
    assert types == ["CandidateChangeRequested"]  # the second, within the hour, sends nothing


async def test_change_link_page_lists_the_changes_and_changes_nothing(
    signup: httpx.AsyncClient,
) -> None:
    email = new_email()
    candidate_id = await sign_up_published(signup, email=email)
    before = await candidate(signup, candidate_id)
    token = await request_changes(signup, email, **CHANGES)
    page = await signup.get("/v1/signups/confirm", params={"token": token})
    assert page.status_code == 200
    assert all(shown in page.text for shown in ("Grace", "Pharmacy", 'method="post"'))
    assert await candidate(signup, candidate_id) == before


async def test_change_link_post_applies_the_changes_once(signup: httpx.AsyncClient) -> None:
    email = new_email()
    candidate_id = await sign_up_published(signup, email=email)
    token = await request_changes(signup, email, **CHANGES)

    async def confirm_twice() -> None:
        for _ in range(2):
            response = await signup.post("/v1/signups/confirm", params={"token": token})
            assert response.json() == {"candidate_id": candidate_id, "status": "subscribed"}

    types = await candidate_events_after(
        signup, confirm_twice, candidate_id=lambda: candidate_id, expected=1
    )
    assert types == ["CandidateChangesConfirmed"]
    after = await candidate(signup, candidate_id)
    assert after["first_name"] == "Grace"
    assert after["preferences"]["interests"] == ["Pharmacy"]
    assert after["preferences"]["alert_frequency"] == "weekly"


async def test_change_link_post_resubscribes_an_unsubscribed_candidate(
    signup: httpx.AsyncClient,
) -> None:
    email = new_email()
    candidate_id = await sign_up_published(signup, email=email)
    unsubscribe_token = token_for(candidate_id, TokenPurpose.UNSUBSCRIBE)
    await signup.post("/v1/unsubscribe", params={"token": unsubscribe_token})
    token = await request_changes(signup, email)  # the same details: only the status changes
    assert (await candidate(signup, candidate_id))["status"] == "unsubscribed"
    await signup.post("/v1/signups/confirm", params={"token": token})
    after = await candidate(signup, candidate_id)
    assert (after["status"], after["unsubscribed_at"]) == ("subscribed", None)


async def test_applied_changes_record_a_confirmed_consent(signup: httpx.AsyncClient) -> None:
    email = new_email()
    candidate_id = await sign_up_published(signup, email=email)
    token = await request_changes(signup, email, **CHANGES)
    await signup.post("/v1/signups/confirm", params={"token": token})
    consents = (await candidate(signup, candidate_id))["consents"]
    assert len(consents) == 2
    assert all(consent["confirmed_at"] for consent in consents)


async def test_forged_change_token_is_400_and_changes_nothing(signup: httpx.AsyncClient) -> None:
    forged = make_token("not-the-secret", TokenPurpose.CHANGE, uuid.uuid4())
    assert (await signup.post("/v1/signups/confirm", params={"token": forged})).status_code == 400
    assert (await signup.get("/v1/signups/confirm", params={"token": forged})).status_code == 400


async def test_change_link_of_an_erased_candidate_is_404(signup: httpx.AsyncClient) -> None:
    email = new_email()
    candidate_id = await sign_up_published(signup, email=email)
    token = await request_changes(signup, email, **CHANGES)
    erased = await signup.delete(
        f"/v1/candidates/{candidate_id}",
        headers=ADMIN_HEADERS,
    )
    assert erased.status_code == 204
    assert (await signup.post("/v1/signups/confirm", params={"token": token})).status_code == 404
