"""Helpers for tests that drive the three services together (the `stack` fixture)."""

import re
import uuid
from email.message import EmailMessage
from typing import Any

import asyncpg

from devsupport.services import ADMIN_HEADERS
from tests.support.fixtures import Stack
from tests.support.infra import eventually

CONFIRM_LINK = re.compile(r"https://careers\.example\.org(/v1/signups/confirm\?token=\S+)")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def sign_up(stack: Stack, **fields: Any) -> tuple[str, str]:
    """Sign up a candidate (unique email, a category of its own); returns (id, email)."""
    body = {
        "email": f"{unique('candidate')}@example.org",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "interests": [unique("Nursing")],
        "locations": [],
        "keywords": [],
        "alert_frequency": "instant",
        "consent": True,
        **fields,
    }
    response = await stack.signup.post("/v1/signups", json=body)
    assert response.status_code == 201, response.text
    return response.json()["candidate_id"], body["email"]


async def post_job(stack: Stack, **fields: Any) -> str:
    body = {
        "title": "Registered Nurse",
        "category": "Nursing",
        "location": "Durham, NC",
        "description": "Day shift on a medical unit.",
        **fields,
    }
    response = await stack.jobs.post("/v1/jobs", json=body, headers=ADMIN_HEADERS)
    assert response.status_code == 201, response.text
    job_id: str = response.json()["job_id"]
    return job_id


async def notifications_knows(stack: Stack, table: str, column: str, value: str) -> bool:
    connection = await asyncpg.connect(stack.notifications_database)
    try:
        return bool(
            await connection.fetchval(
                f"SELECT true FROM {table} WHERE {column} = $1", uuid.UUID(value)
            )
        )
    finally:
        await connection.close()


async def job_reached_notifications(stack: Stack, job_id: str) -> None:
    assert await eventually(lambda: notifications_knows(stack, "jobs", "job_id", job_id))


async def deliveries(stack: Stack, email: str) -> list[dict[str, Any]]:
    response = await stack.notifications.get(
        "/v1/deliveries", params={"email": email}, headers=ADMIN_HEADERS
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def settled(stack: Stack, email: str) -> list[dict[str, Any]]:
    """The deliveries to ``email`` once none is pending any more."""
    result: list[dict[str, Any]] = []

    async def none_pending() -> bool:
        nonlocal result
        result = await deliveries(stack, email)
        return bool(result) and all(item["status"] != "pending" for item in result)

    await eventually(none_pending, timeout=30)
    return result


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def html_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


async def all_known(stack: Stack, job_ids: list[str]) -> bool:
    return all([await notifications_knows(stack, "jobs", "job_id", j) for j in job_ids])


async def confirm(stack: Stack, message: EmailMessage) -> None:
    """Follow the confirmation or changes email's link as its reader does: POST."""
    [path] = CONFIRM_LINK.findall(text_of(message))
    response = await stack.signup.post(path)
    assert response.status_code == 200, response.text
