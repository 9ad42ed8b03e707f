"""Erasure crossing job views (real PostgreSQL): a view that happened before a candidate's erasure
never brings their recently-viewed history back, whether it is consumed after the erasure or
projected while the erasure runs."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from devsupport.databases import migrated_pool
from talent_jobs import repository
from talent_shared.db import Connection, Pool
from tests.support.crossing import Work, cross

pytestmark = pytest.mark.integration

ERASED_AT = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
BEFORE = ERASED_AT - timedelta(seconds=1)
AFTER = ERASED_AT + timedelta(seconds=1)


@pytest.fixture(scope="module")
async def pool(infrastructure: None) -> AsyncIterator[Pool]:
    async with migrated_pool("talent_jobs", "erasure", max_size=6) as pool:
        yield pool


def viewing(visitor_id: str, viewed_at: datetime) -> Work:
    async def project(connection: Connection) -> None:
        await repository.project_views(
            connection,
            visitor_ids=[visitor_id],
            job_ids=[uuid.uuid4()],
            viewed_ats=[viewed_at],
            kept=50,
        )

    return project


def erasing(visitor_id: str) -> Work:
    async def erase(connection: Connection) -> None:
        await repository.erase_visitors(connection, [visitor_id], erased_at=ERASED_AT)

    return erase


async def rows_of(pool: Pool, visitor_id: str) -> int:
    async with pool.acquire() as connection:
        count: int = await connection.fetchval(
            "SELECT count(*) FROM recently_viewed WHERE visitor_id = $1", visitor_id
        )
    return count


async def run(pool: Pool, work: Work) -> None:
    async with pool.acquire() as connection, connection.transaction():
        await work(connection)


def new_visitor() -> str:
    return f"visitor-{uuid.uuid4().hex[:10]}"


async def test_erasure_deletes_the_visitors_history(pool: Pool) -> None:
    visitor = new_visitor()
    await run(pool, viewing(visitor, BEFORE))
    await run(pool, erasing(visitor))
    assert await rows_of(pool, visitor) == 0


async def test_a_view_from_before_the_erasure_consumed_after_it_is_dropped(pool: Pool) -> None:
    visitor = new_visitor()
    await run(pool, erasing(visitor))
    await run(pool, viewing(visitor, BEFORE))
    assert await rows_of(pool, visitor) == 0


async def test_a_view_after_the_erasure_is_new_activity_and_shows(pool: Pool) -> None:
    visitor = new_visitor()
    await run(pool, erasing(visitor))
    await run(pool, viewing(visitor, AFTER))
    assert await rows_of(pool, visitor) == 1


async def test_a_view_projected_while_the_erasure_is_open_stays_erased(pool: Pool) -> None:
    visitor = new_visitor()
    await cross(pool, erasing(visitor), viewing(visitor, BEFORE))
    assert await rows_of(pool, visitor) == 0


async def test_an_erasure_while_a_projection_is_open_erases_its_view(pool: Pool) -> None:
    visitor = new_visitor()
    await cross(pool, viewing(visitor, BEFORE), erasing(visitor))
    assert await rows_of(pool, visitor) == 0


async def test_the_tombstone_keeps_no_readable_visitor_id(pool: Pool) -> None:
    visitor = new_visitor()
    await run(pool, erasing(visitor))
    async with pool.acquire() as connection:
        stored = await connection.fetch("SELECT visitor_hash::text AS h FROM erased_visitors")
    assert all(visitor not in row["h"] for row in stored)


async def test_a_batch_with_views_before_and_after_the_erasure_keeps_the_later_one(
    pool: Pool,
) -> None:
    visitor, job_id = new_visitor(), uuid.uuid4()
    await run(pool, erasing(visitor))
    async with pool.acquire() as connection:
        await repository.project_views(
            connection,
            visitor_ids=[visitor, visitor],
            job_ids=[job_id, job_id],
            viewed_ats=[AFTER, BEFORE],
            kept=50,
        )
        stored = await connection.fetch(
            "SELECT job_id, viewed_at FROM recently_viewed WHERE visitor_id = $1", visitor
        )
    assert [(row["job_id"], row["viewed_at"]) for row in stored] == [(job_id, AFTER)]


async def test_a_batch_past_the_limit_keeps_the_newest_views_of_each_visitor(pool: Pool) -> None:
    visitors = [new_visitor(), new_visitor()]
    kept = 50
    views = [
        (visitor, uuid.uuid4(), BEFORE + timedelta(minutes=n))
        for visitor in visitors
        for n in range(kept + 3)
    ]
    async with pool.acquire() as connection:
        for half in (views[1::2], views[::2]):  # old and new views arrive mixed, in two batches
            await repository.project_views(
                connection,
                visitor_ids=[visitor for visitor, _, _ in half],
                job_ids=[job_id for _, job_id, _ in half],
                viewed_ats=[viewed_at for _, _, viewed_at in half],
                kept=kept,
            )
        for visitor in visitors:
            stored = await connection.fetch(
                "SELECT job_id FROM recently_viewed WHERE visitor_id = $1", visitor
            )
            oldest_first = [job_id for v, job_id, _ in views if v == visitor]
            assert {row["job_id"] for row in stored} == set(oldest_first[-kept:])
