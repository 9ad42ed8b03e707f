"""Numbered SQL migrations, applied once under an advisory lock (real PostgreSQL)."""

import asyncio

import asyncpg
import pytest

from devsupport.databases import fresh_database
from talent_shared.db import Migration, apply_migrations, create_pool

pytestmark = pytest.mark.integration

MIGRATIONS = [
    Migration("test/0001_a.sql", "CREATE TABLE a (id int PRIMARY KEY)"),
    Migration("test/0002_b.sql", "CREATE TABLE b (id int PRIMARY KEY)"),
]


@pytest.fixture
async def pool(infrastructure: None):  # type: ignore[no-untyped-def]
    async with fresh_database("migrations") as url:
        pool = await create_pool(url, max_size=8)
        yield pool
        await pool.close()


async def test_migrations_are_applied_in_order(pool: asyncpg.Pool) -> None:
    assert await apply_migrations(pool, MIGRATIONS) == ["test/0001_a.sql", "test/0002_b.sql"]
    assert await pool.fetchval("SELECT count(*) FROM schema_migrations") == 2


async def test_applied_migrations_are_not_applied_again(pool: asyncpg.Pool) -> None:
    await apply_migrations(pool, MIGRATIONS)
    assert await apply_migrations(pool, MIGRATIONS) == []


async def test_concurrent_starts_apply_each_migration_once(pool: asyncpg.Pool) -> None:
    results = await asyncio.gather(*(apply_migrations(pool, MIGRATIONS) for _ in range(5)))
    applied = [name for result in results for name in result]
    assert sorted(applied) == ["test/0001_a.sql", "test/0002_b.sql"]


async def test_failing_migration_is_rolled_back_and_not_recorded(pool: asyncpg.Pool) -> None:
    broken = [*MIGRATIONS, Migration("test/0003_bad.sql", "CREATE TABLE c (id int); SELECT 1/0")]
    with pytest.raises(asyncpg.DivisionByZeroError):
        await apply_migrations(pool, broken)
    assert await pool.fetchval("SELECT to_regclass('c')") is None
    names = {r["name"] for r in await pool.fetch("SELECT name FROM schema_migrations")}
    assert names == {"test/0001_a.sql", "test/0002_b.sql"}
