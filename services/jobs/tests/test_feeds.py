"""Jobs by requisition id, as an ATS syncs them (real PostgreSQL and broker): idempotent writes,
only the changes emitted, what the feed lacks closed, and invalid jobs named."""

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from devsupport.databases import fresh_database
from devsupport.services import ADMIN_HEADERS
from services.jobs.tests.helpers import post_job
from talent_jobs.app import create_app
from talent_jobs.settings import JobsSettings
from tests.support.fixtures import running, settings_for_test

pytestmark = pytest.mark.integration


@pytest.fixture
async def catalogue(infrastructure: None) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """A jobs service on a catalogue of its own: a sync closes what its feed lacks."""
    async with fresh_database("feeds") as database:
        app = create_app(settings_for_test(JobsSettings, database))
        async with running(app) as client:
            yield client, database


def feed_job(requisition_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "requisition_id": requisition_id,
        "title": f"Nurse {requisition_id}",
        "category": "Nursing",
        "location": "Durham, NC",
        "description": "Nights.",
        **fields,
    }


async def events(database: str) -> list[str]:
    """The event types the service emitted, in order (its outbox keeps them)."""
    connection = await asyncpg.connect(database)
    try:
        rows = await connection.fetch("SELECT event_type FROM outbox ORDER BY id")
    finally:
        await connection.close()
    return [row["event_type"] for row in rows]


async def sync(client: httpx.AsyncClient, jobs: list[dict[str, Any]]) -> httpx.Response:
    return await client.post("/v1/jobs/sync", json={"jobs": jobs}, headers=ADMIN_HEADERS)


async def put(client: httpx.AsyncClient, requisition_id: str, **fields: Any) -> httpx.Response:
    body = {k: v for k, v in feed_job(requisition_id, **fields).items() if k != "requisition_id"}
    return await client.put(
        f"/v1/jobs/by-requisition/{requisition_id}", json=body, headers=ADMIN_HEADERS
    )


async def test_putting_a_new_requisition_posts_a_job(
    catalogue: tuple[httpx.AsyncClient, str],
) -> None:
    client, database = catalogue
    response = await put(client, "REQ-1")
    assert response.status_code == 201
    assert (response.json()["requisition_id"], response.json()["status"]) == ("REQ-1", "open")
    assert await events(database) == ["JobPosted"]


async def test_putting_the_same_body_twice_emits_one_event(
    catalogue: tuple[httpx.AsyncClient, str],
) -> None:
    client, database = catalogue
    first, again = await put(client, "REQ-2"), await put(client, "REQ-2")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["job_id"] == first.json()["job_id"]
    assert await events(database) == ["JobPosted"]


async def test_putting_a_changed_body_updates_the_job(
    catalogue: tuple[httpx.AsyncClient, str],
) -> None:
    client, database = catalogue
    await put(client, "REQ-3")
    changed = await put(client, "REQ-3", title="Charge Nurse")
    assert (changed.status_code, changed.json()["title"]) == (200, "Charge Nurse")
    assert await events(database) == ["JobPosted", "JobUpdated"]


async def test_a_sync_posts_updates_and_closes_only_what_changed(
    catalogue: tuple[httpx.AsyncClient, str],
) -> None:
    client, database = catalogue
    unkept = await post_job(client)  # posted without a requisition id: the feed leaves it alone
    first = await sync(client, [feed_job(f"R{n}") for n in range(5)])
    assert first.status_code == 202
    assert first.json() == {"created": 5, "updated": 0, "closed": 0, "unchanged": 0}
    second_feed = [feed_job("R0", title="Charge Nurse"), *[feed_job(f"R{n}") for n in (1, 2)]]
    second = await sync(client, [*second_feed, feed_job("R9")])
    assert second.json() == {"created": 1, "updated": 1, "closed": 2, "unchanged": 2}
    assert await events(database) == [
        "JobPosted",
        *["JobPosted"] * 5,
        "JobPosted",
        "JobUpdated",
        "JobClosed",
        "JobClosed",
    ]
    assert (await client.get(f"/v1/jobs/{unkept['job_id']}")).json()["status"] == "open"


async def test_the_same_feed_again_changes_nothing(
    catalogue: tuple[httpx.AsyncClient, str],
) -> None:
    client, database = catalogue
    feed = [feed_job(f"S{n}") for n in range(50)]
    await sync(client, feed)
    again = await sync(client, feed)
    assert again.json() == {"created": 0, "updated": 0, "closed": 0, "unchanged": 50}
    assert len(await events(database)) == 50


async def test_a_closed_job_back_in_the_feed_is_reopened(
    catalogue: tuple[httpx.AsyncClient, str],
) -> None:
    client, database = catalogue
    job_id = (await put(client, "BACK")).json()["job_id"]
    await sync(client, [])  # the feed no longer has it: closed
    back = await sync(client, [feed_job("BACK")])
    assert back.json()["updated"] == 1
    assert (await client.get(f"/v1/jobs/{job_id}")).json()["status"] == "open"
    assert await events(database) == ["JobPosted", "JobClosed", "JobUpdated"]


async def test_an_invalid_job_in_a_feed_is_422_naming_the_job_and_field(
    catalogue: tuple[httpx.AsyncClient, str],
) -> None:
    client, database = catalogue
    feed = [feed_job("OK"), feed_job("BAD", title="Nurse\nnights"), feed_job("OK2")]
    response = await sync(client, feed)
    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [["body", "jobs", 1, "title"]]
    assert await events(database) == []


async def test_a_requisition_twice_in_a_feed_is_422_naming_the_second(
    catalogue: tuple[httpx.AsyncClient, str],
) -> None:
    client, _ = catalogue
    response = await sync(client, [feed_job("TWICE"), feed_job("OTHER"), feed_job("TWICE")])
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "jobs", 2, "requisition_id"]


async def test_a_feed_of_more_than_5000_jobs_is_422(
    catalogue: tuple[httpx.AsyncClient, str],
) -> None:
    client, _ = catalogue
    response = await sync(client, [feed_job(f"N{n}") for n in range(5001)])
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "jobs"]


async def test_a_feed_needs_the_admin_token(catalogue: tuple[httpx.AsyncClient, str]) -> None:
    client, _ = catalogue
    response = await client.post("/v1/jobs/sync", json={"jobs": []})
    assert response.status_code == 401


async def test_a_requisition_id_in_the_path_is_checked_like_the_body(
    catalogue: tuple[httpx.AsyncClient, str],
) -> None:
    client, _ = catalogue
    response = await put(client, "x" * 65)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "requisition_id"]
