"""A consumer batch of sign-ups is applied together (real PostgreSQL): one welcome each, the
matching alert for those with open jobs, nothing for the erased, and the batch's order kept."""

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from devsupport.databases import migrated_pool
from services.notifications.tests.applying import apply
from services.notifications.tests.events import erased, job_event, signed_up
from talent_shared.db import Pool

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def pool(infrastructure: None) -> AsyncIterator[Pool]:
    async with migrated_pool("talent_notifications", "signup_batches", max_size=2) as pool:
        yield pool


async def deliveries(pool: Pool, candidate_id: uuid.UUID) -> list[asyncpg.Record]:
    async with pool.acquire() as connection:
        return await connection.fetch(
            "SELECT kind, status, to_address FROM deliveries WHERE candidate_id = $1 ORDER BY kind",
            candidate_id,
        )


def category() -> str:
    return f"Category {uuid.uuid4().hex[:8]}"


async def test_each_sign_up_of_a_batch_gets_one_welcome(pool: Pool) -> None:
    candidates = [uuid.uuid4() for _ in range(3)]
    await apply(pool, "candidates", [signed_up(c, category()) for c in candidates])
    for candidate_id in candidates:
        assert [row["kind"] for row in await deliveries(pool, candidate_id)] == ["welcome"]


async def test_only_the_sign_ups_with_a_matching_open_job_get_an_alert(pool: Pool) -> None:
    wanted, other = category(), category()
    await apply(pool, "jobs", [job_event(uuid.uuid4(), wanted)])
    matching, not_matching = uuid.uuid4(), uuid.uuid4()
    await apply(pool, "candidates", [signed_up(matching, wanted), signed_up(not_matching, other)])
    assert [row["kind"] for row in await deliveries(pool, matching)] == ["job_alert", "welcome"]
    assert [row["kind"] for row in await deliveries(pool, not_matching)] == ["welcome"]


async def test_a_replayed_sign_up_of_an_erased_candidate_in_a_batch_records_nothing(
    pool: Pool,
) -> None:
    gone, staying = uuid.uuid4(), uuid.uuid4()
    await apply(pool, "candidates", [erased(gone)])
    await apply(pool, "candidates", [signed_up(gone, category()), signed_up(staying, category())])
    assert await deliveries(pool, gone) == []
    assert [row["kind"] for row in await deliveries(pool, staying)] == ["welcome"]


async def test_an_erasure_after_sign_ups_in_one_batch_applies_after_them(pool: Pool) -> None:
    candidate_id = uuid.uuid4()
    await apply(pool, "candidates", [signed_up(candidate_id, category()), erased(candidate_id)])
    [welcome] = await deliveries(pool, candidate_id)
    assert welcome["status"] == "failed"
    assert welcome["to_address"] is None
