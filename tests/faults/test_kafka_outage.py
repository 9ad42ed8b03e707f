"""The broker stops and comes back: job views answer 503 quickly, readiness follows, and
everything recovers without restarting the service (real broker, stopped by the local runner)."""

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from devsupport.services import ADMIN_HEADERS
from services.jobs.tests.helpers import new_visitor, post_job, wait_for_recently_viewed
from talent_shared.events import POSTINGS_TOPIC
from tests.support.infra import eventually, infra
from tests.support.kafka import read_until, topic_reader

pytestmark = [pytest.mark.integration, pytest.mark.faults]


@pytest.fixture
async def kafka_stopped() -> AsyncIterator[None]:
    await asyncio.to_thread(infra, "stop", "kafka")
    try:
        yield
    finally:
        await asyncio.to_thread(infra, "start", "kafka")


async def test_job_view_is_503_within_seconds_while_kafka_is_down(
    jobs: httpx.AsyncClient,
) -> None:
    job = await post_job(jobs)
    await asyncio.to_thread(infra, "stop", "kafka")
    try:
        started = time.monotonic()
        response = await jobs.post(
            "/v1/job-views", json={"visitor_id": new_visitor(), "job_id": job["job_id"]}
        )
        elapsed = time.monotonic() - started
        readiness = await jobs.get("/readyz")
    finally:
        await asyncio.to_thread(infra, "start", "kafka")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert elapsed < 10, f"503 took {elapsed:.1f}s"
    assert readiness.status_code == 503
    assert readiness.json()["kafka"] == "unreachable"


async def test_service_recovers_when_kafka_comes_back(jobs: httpx.AsyncClient) -> None:
    job = await post_job(jobs)
    await asyncio.to_thread(infra, "stop", "kafka")
    await asyncio.to_thread(infra, "start", "kafka")

    async def ready() -> bool:
        return (await jobs.get("/readyz")).status_code == 200

    assert await eventually(ready, timeout=30)
    visitor = new_visitor()

    async def accepted() -> bool:
        response = await jobs.post(
            "/v1/job-views", json={"visitor_id": visitor, "job_id": job["job_id"]}
        )
        return response.status_code == 202

    assert await eventually(accepted, timeout=30, interval=0.5)
    # The consumer group rejoins once the restarted broker has loaded the group (seconds).
    projected = await wait_for_recently_viewed(jobs, visitor, [job["job_id"]], timeout=45)
    assert projected == [job["job_id"]]


async def test_job_posted_while_kafka_is_down_is_published_when_it_returns(
    jobs: httpx.AsyncClient,
) -> None:
    await asyncio.to_thread(infra, "stop", "kafka")
    try:
        response = await jobs.post(
            "/v1/jobs",
            headers=ADMIN_HEADERS,
            json={
                "title": "Phlebotomist",
                "category": "Allied Health",
                "location": "Durham, NC",
                "description": "Draw blood.",
            },
        )
    finally:
        await asyncio.to_thread(infra, "start", "kafka")
    assert response.status_code == 201
    job_id = response.json()["job_id"].encode()
    async with topic_reader(POSTINGS_TOPIC, from_beginning=True) as reader:
        await read_until(reader, lambda record: record.key == job_id, timeout=60)
