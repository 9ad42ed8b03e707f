"""Double opt-in (SIGNUP_DOUBLE_OPT_IN=true), end to end: the three services in this process on
the real broker and PostgreSQL, and an SMTP server the test reads."""

import uuid
from collections.abc import AsyncIterator
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, urlparse

import asyncpg
import pytest

from devsupport.services import ADMIN_HEADERS
from talent_shared.settings import DEVELOPMENT_TOKEN_SECRET
from talent_shared.tokens import TokenPurpose, make_token
from tests.support.fixtures import Stack, start_stack
from tests.support.flows import job_reached_notifications, post_job, settled, text_of, unique
from tests.support.infra import eventually

pytestmark = pytest.mark.integration

PUBLIC_BASE_URL = "https://careers.example.org"
CONFIRM_PATH = "/v1/signups/confirm"


@pytest.fixture(scope="module")
async def stack(infrastructure: None) -> AsyncIterator[Stack]:
    # The housekeeping loop runs often here, so an expired sign-up goes within the test.
    opt_in: dict[str, object] = {"signup_double_opt_in": True, "signup_housekeeping_seconds": 0.2}
    async with start_stack(signup_settings=opt_in) as running_stack:
        yield running_stack


async def sign_up(stack: Stack, **fields: Any) -> tuple[str, str]:
    email = f"{unique('candidate')}@example.org"
    body = {
        "email": email,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "interests": [unique("Nursing")],
        "alert_frequency": "instant",
        "consent": True,
        **fields,
    }
    response = await stack.signup.post("/v1/signups", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "pending"
    return response.json()["candidate_id"], email


def confirm_token(message: EmailMessage) -> str:
    """The token of the one confirmation link in the email's text."""
    [link] = [word for word in text_of(message).split() if CONFIRM_PATH in word]
    url = urlparse(link)
    assert f"{url.scheme}://{url.netloc}{url.path}" == PUBLIC_BASE_URL + CONFIRM_PATH
    [token] = parse_qs(url.query)["token"]
    return token


async def candidate(stack: Stack, candidate_id: str) -> dict[str, Any]:
    response = await stack.signup.get(f"/v1/candidates/{candidate_id}", headers=ADMIN_HEADERS)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def events_of(stack: Stack, candidate_id: str) -> list[str]:
    """The event types signup emitted for the candidate, in order (its outbox keeps them)."""
    connection = await asyncpg.connect(stack.signup_database)
    try:
        rows = await connection.fetch(
            "SELECT event_type FROM outbox WHERE message_key = $1 ORDER BY id", candidate_id
        )
    finally:
        await connection.close()
    return [row["event_type"] for row in rows]


async def test_pending_sign_up_gets_only_a_confirmation_email(stack: Stack) -> None:
    candidate_id, email = await sign_up(stack)
    [item] = await settled(stack, email)
    assert item["kind"] == "confirmation"
    [message] = stack.smtp.handler.to(email)
    assert "Confirm" in message["Subject"]
    assert message["List-Unsubscribe"] is None  # not list mail: the recipient is not a member
    assert (await candidate(stack, candidate_id))["status"] == "pending"


async def test_confirmation_then_welcome_and_alert_for_a_matching_job(stack: Stack) -> None:
    category = unique("Pharmacy")
    job_id = await post_job(stack, category=category, title="Clinical Pharmacist")
    await job_reached_notifications(stack, job_id)
    candidate_id, email = await sign_up(stack, interests=[category])
    [confirmation] = await stack.smtp.wait_for(email, 1)
    token = confirm_token(confirmation)

    page = await stack.signup.get(CONFIRM_PATH, params={"token": token})
    assert page.status_code == 200
    assert 'method="post"' in page.text
    assert (await candidate(stack, candidate_id))["status"] == "pending"  # GET changes nothing

    confirmed = await stack.signup.post(CONFIRM_PATH, params={"token": token})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json() == {"candidate_id": candidate_id, "status": "subscribed"}

    messages = await stack.smtp.wait_for(email, 3)
    subjects = [message["Subject"] for message in messages[1:]]
    assert any("Welcome" in subject for subject in subjects)
    [alert] = [m for m in messages[1:] if "Welcome" not in m["Subject"]]
    assert f"{PUBLIC_BASE_URL}/jobs/{job_id}" in text_of(alert)
    [consent] = (await candidate(stack, candidate_id))["consents"]
    assert consent["confirmed_at"] is not None


async def test_confirming_twice_is_200_and_sends_one_welcome(stack: Stack) -> None:
    candidate_id, email = await sign_up(stack)
    token = confirm_token((await stack.smtp.wait_for(email, 1))[0])
    for _ in range(2):
        response = await stack.signup.post(CONFIRM_PATH, params={"token": token})
        assert response.status_code == 200
        assert response.json()["status"] == "subscribed"
    await stack.smtp.wait_for(email, 2)
    assert await events_of(stack, candidate_id) == [
        "CandidateConfirmationRequested",
        "CandidateSignedUp",
    ]


async def test_confirm_from_a_browser_answers_a_page(stack: Stack) -> None:
    _, email = await sign_up(stack)
    token = confirm_token((await stack.smtp.wait_for(email, 1))[0])
    response = await stack.signup.post(
        CONFIRM_PATH, params={"token": token}, headers={"Accept": "text/html"}
    )
    assert response.status_code == 200
    assert "You are signed up" in response.text


async def test_signing_up_again_while_pending_asks_once_to_confirm_and_changes_nothing(
    stack: Stack,
) -> None:
    candidate_id, email = await sign_up(stack)
    for _ in range(2):
        again = await stack.signup.post(
            "/v1/signups",
            json={"email": email, "first_name": "Ada", "last_name": "L", "consent": True},
        )
        assert again.status_code == 200
        assert again.json() == {"candidate_id": candidate_id, "status": "pending"}
    assert await events_of(stack, candidate_id) == [
        "CandidateConfirmationRequested",
        "CandidateChangeRequested",  # one an hour: the second sign-up sends nothing
    ]
    assert (await candidate(stack, candidate_id))["last_name"] == "Lovelace"


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_forged_confirmation_token_is_400(stack: Stack, method: str) -> None:
    response = await stack.signup.request(method, CONFIRM_PATH, params={"token": "forged.token"})
    assert response.status_code == 400


async def test_unsubscribe_token_does_not_confirm(stack: Stack) -> None:
    candidate_id, _ = await sign_up(stack)
    token = make_token(DEVELOPMENT_TOKEN_SECRET, TokenPurpose.UNSUBSCRIBE, uuid.UUID(candidate_id))
    response = await stack.signup.post(CONFIRM_PATH, params={"token": token})
    assert response.status_code == 400
    assert (await candidate(stack, candidate_id))["status"] == "pending"


async def age_sign_up(stack: Stack, candidate_id: str, days: int) -> None:
    """Move a sign-up back in time, as if it had waited ``days`` days."""
    connection = await asyncpg.connect(stack.signup_database)
    try:
        await connection.execute(
            "UPDATE candidates SET created_at = created_at - make_interval(days => $2)"
            " WHERE candidate_id = $1",
            uuid.UUID(candidate_id),
            days,
        )
    finally:
        await connection.close()


async def test_sign_up_unconfirmed_for_seven_days_is_erased(stack: Stack) -> None:
    candidate_id, email = await sign_up(stack)
    token = confirm_token((await stack.smtp.wait_for(email, 1))[0])
    await age_sign_up(stack, candidate_id, days=7)

    async def erased() -> bool:
        response = await stack.signup.get(f"/v1/candidates/{candidate_id}", headers=ADMIN_HEADERS)
        return response.status_code == 404

    assert await eventually(erased, timeout=20)
    late = await stack.signup.post(CONFIRM_PATH, params={"token": token})
    assert late.status_code == 404

    async def forgotten_by_notifications() -> bool:
        items = (
            await stack.notifications.get(
                "/v1/deliveries", params={"email": email}, headers=ADMIN_HEADERS
            )
        ).json()["items"]
        return all(item["to"] != email for item in items)

    assert await eventually(forgotten_by_notifications, timeout=20)


async def test_pending_sign_up_younger_than_seven_days_is_kept(stack: Stack) -> None:
    candidate_id, _ = await sign_up(stack)
    await age_sign_up(stack, candidate_id, days=6)
    older_id, _ = await sign_up(stack)
    await age_sign_up(stack, older_id, days=8)

    async def older_erased() -> bool:
        response = await stack.signup.get(f"/v1/candidates/{older_id}", headers=ADMIN_HEADERS)
        return response.status_code == 404

    assert await eventually(older_erased, timeout=20)  # the sweep ran after both were aged
    assert (await candidate(stack, candidate_id))["status"] == "pending"
