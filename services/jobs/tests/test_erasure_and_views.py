"""Erasure crossing job views (real PostgreSQL): a view that happened before a candidate's erasure
never brings their recently-viewed history back, whether it is consumed after the erasure or
projected while the erasure runs."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from talent_jobs import repository
from talent_shared.db import Connection, Pool, apply_migrations, create_pool, migrations_in
from talent_shared.db import shared_migrations as shared
from tests.support.crossing import Work, cross
from tests.support.infra import fresh_database

pytestmark = pytest.mark.integration

ERASED_AT = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
BEFORE = ERASED_AT - timedelta(seconds=1)
AFTER = ERASED_AT + timedelta(seconds=1)


@pytest.fixture(scope="module")
async def pool(infrastructure: None) -> AsyncIterator[Pool]:
    async with fresh_database("erasure") as url:
        pool = await create_pool(url, max_size=6)
        await apply_migrations(pool, shared() + migrations_in("talent_jobs", namespace="service"))
        try:
            yield pool
        finally:
            await pool.close()


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
