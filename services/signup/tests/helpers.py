"""Small helpers for the signup service's tests."""

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from devsupport.services import ADMIN_HEADERS
from talent_shared.events import CANDIDATES_TOPIC
from talent_shared.settings import DEVELOPMENT_TOKEN_SECRET
from talent_shared.tokens import TokenPurpose, make_token
from tests.support.kafka import Record, read_until, topic_reader


def new_email(domain: str = "example.org") -> str:
    return f"candidate.{uuid.uuid4().hex[:10]}@{domain}"


def signup_body(**fields: Any) -> dict[str, Any]:
    return {
        "email": new_email(),
        "first_name": "Ada",
        "last_name": "Lovelace",
        "interests": ["Nursing"],
        "locations": ["Durham"],
        "keywords": ["ICU"],
        "alert_frequency": "instant",
        "consent": True,
        **fields,
    }


async def sign_up(signup: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    response = await signup.post("/v1/signups", json=signup_body(**fields))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def candidate(signup: httpx.AsyncClient, candidate_id: str) -> dict[str, Any]:
    response = await signup.get(f"/v1/candidates/{candidate_id}", headers=ADMIN_HEADERS)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def token_for(candidate_id: str, purpose: TokenPurpose) -> str:
    return make_token(DEVELOPMENT_TOKEN_SECRET, purpose, uuid.UUID(candidate_id))


async def candidate_events_after(
    signup: httpx.AsyncClient,
    action: Any,
    *,
    candidate_id: Callable[[], str],
    expected: int,
    timeout: float = 20.0,
) -> list[str]:
    """Run ``action`` while reading the candidates topic; the event types of the candidate
    (``candidate_id()`` once the action ran), once ``expected`` of them came and two quiet
    seconds passed, so a surplus shows too."""
    async with topic_reader(CANDIDATES_TOPIC) as reader:
        await action()
        key = candidate_id().encode()
        mine: list[Record] = []
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            batches = await reader.getmany(timeout_ms=2000)
            mine += [r for records in batches.values() for r in records if r.key == key]
            if len(mine) >= expected and not batches:
                break
        return [dict(record.headers)["event_type"].decode() for record in mine]


async def sign_up_published(signup: httpx.AsyncClient, **fields: Any) -> str:
    """Sign up and wait until its CandidateSignedUp is in Kafka, so that a reader started
    afterwards sees only what the test does next. Returns the candidate id."""
    async with topic_reader(CANDIDATES_TOPIC) as reader:
        candidate_id: str = (await sign_up(signup, **fields))["candidate_id"]
        await read_until(reader, lambda r: r.key == candidate_id.encode())
    return candidate_id
