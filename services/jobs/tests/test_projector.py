"""The recently-viewed projector: batches, bounded storage, closed jobs (real broker and DB)."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from prometheus_client import REGISTRY

from devsupport.services import ADMIN_HEADERS
from services.jobs.tests.helpers import new_visitor, post_job, wait_for_recently_viewed
from talent_jobs.handlers import RECENTLY_VIEWED
from talent_shared.envelope import new_event
from talent_shared.events import VIEWS_TOPIC, JobViewed
from tests.support.infra import eventually
from tests.support.kafka import raw_producer

pytestmark = pytest.mark.integration

BASE = datetime(2026, 5, 1, tzinfo=UTC)


def batch_samples() -> tuple[float, float]:
    """(batches handled, batches of a single event) by the projector so far in this process."""
    labels = {"consumer": f"jobs.{RECENTLY_VIEWED}"}  # the service, then the consumer
    count = REGISTRY.get_sample_value("talent_consumer_batch_size_count", labels) or 0.0
    singles = REGISTRY.get_sample_value(
        "talent_consumer_batch_size_bucket", {**labels, "le": "1.0"}
    )
    return count, singles or 0.0


async def publish_views(views: list[JobViewed]) -> None:
    async with raw_producer() as producer:
        sends = [
            await producer.send(
                VIEWS_TOPIC,
                new_event(view, producer="test").to_bytes(),
                key=view.visitor_id.encode(),
            )
            for view in views
        ]
        await asyncio.gather(*sends)


async def projected_rows(database_url: str, visitor_ids: list[str]) -> int:
    connection = await asyncpg.connect(database_url)
    try:
        count: int = await connection.fetchval(
            "SELECT count(*) FROM recently_viewed WHERE visitor_id = ANY($1)", visitor_ids
        )
        return count
    finally:
        await connection.close()


async def test_many_views_are_projected_in_batches(
    jobs: httpx.AsyncClient, jobs_database: str
) -> None:
    posted = [await post_job(jobs) for _ in range(10)]
    visitors = [new_visitor() for _ in range(100)]
    views = [
        JobViewed(visitor_id=visitor, job_id=job["job_id"], viewed_at=BASE + timedelta(seconds=n))
        for visitor in visitors
        for n, job in enumerate(posted)
    ]
    batches_before, singles_before = batch_samples()
    await publish_views(views)

    async def all_projected() -> bool:
        return await projected_rows(jobs_database, visitors) == len(views)

    assert await eventually(all_projected, timeout=30)
    batches, singles = batch_samples()
    assert batches - batches_before < len(views)  # fewer handler calls than events
    assert batches - batches_before > singles - singles_before  # some batch held several views


async def test_storage_keeps_the_fifty_most_recent_jobs_per_visitor(
    jobs: httpx.AsyncClient, jobs_database: str
) -> None:
    posted = [await post_job(jobs) for _ in range(55)]
    visitor = new_visitor()
    views = [
        JobViewed(visitor_id=visitor, job_id=job["job_id"], viewed_at=BASE + timedelta(minutes=n))
        for n, job in enumerate(posted)
    ]
    await publish_views(views)
    newest_fifty = [job["job_id"] for job in reversed(posted)][:50]
    assert await wait_for_recently_viewed(jobs, visitor, newest_fifty, limit=50) == newest_fifty
    assert await projected_rows(jobs_database, [visitor]) == 50


async def test_closed_job_leaves_the_recently_viewed_list(jobs: httpx.AsyncClient) -> None:
    stays, closes = await post_job(jobs), await post_job(jobs)
    visitor = new_visitor()
    for job in (stays, closes):
        await jobs.post("/v1/job-views", json={"visitor_id": visitor, "job_id": job["job_id"]})
    await wait_for_recently_viewed(jobs, visitor, [closes["job_id"], stays["job_id"]])
    await jobs.post(f"/v1/jobs/{closes['job_id']}/close", headers=ADMIN_HEADERS)
    response = await jobs.get(f"/v1/visitors/{visitor}/recently-viewed")
    assert [item["job_id"] for item in response.json()["items"]] == [stays["job_id"]]


async def test_view_of_a_job_posted_by_another_replica_is_accepted(
    jobs: httpx.AsyncClient, jobs_database: str
) -> None:
    """A job this process never saw (inserted straight into the database) is found, not 404."""
    job_id = uuid.uuid4()
    connection = await asyncpg.connect(jobs_database)
    try:
        await connection.execute(
            """INSERT INTO jobs (job_id, title, category, location, description)
               VALUES ($1, 'Chaplain', 'Spiritual Care', 'Durham, NC', 'Support patients')""",
            job_id,
        )
    finally:
        await connection.close()
    response = await jobs.post(
        "/v1/job-views", json={"visitor_id": new_visitor(), "job_id": str(job_id)}
    )
    assert response.status_code == 202
