"""Small helpers for the jobs service's tests."""

import uuid
from typing import Any

import httpx

from devsupport.services import ADMIN_HEADERS
from tests.support.infra import eventually


def new_visitor() -> str:
    return f"visitor-{uuid.uuid4().hex[:12]}"


async def post_job(jobs: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {
        "title": "Registered Nurse - ICU",
        "category": "Nursing",
        "location": "Durham, NC",
        "description": "Night shift in the intensive care unit.",
        **fields,
    }
    response = await jobs.post("/v1/jobs", json=body, headers=ADMIN_HEADERS)
    assert response.status_code == 201, response.text
    job: dict[str, Any] = response.json()
    return job


async def recently_viewed_ids(jobs: httpx.AsyncClient, visitor_id: str, **params: Any) -> list[str]:
    response = await jobs.get(f"/v1/visitors/{visitor_id}/recently-viewed", params=params)
    assert response.status_code == 200, response.text
    return [item["job_id"] for item in response.json()["items"]]


async def wait_for_recently_viewed(
    jobs: httpx.AsyncClient,
    visitor_id: str,
    expected: list[str],
    *,
    timeout: float = 15,
    **params: Any,
) -> list[str]:
    """Poll the projection until it shows ``expected`` (or time runs out); returns the last list."""
    last: list[str] = []

    async def matches() -> bool:
        nonlocal last
        last = await recently_viewed_ids(jobs, visitor_id, **params)
        return last == expected

    await eventually(matches, timeout=timeout)
    return last
