"""The shared asyncpg pool releases connections without a reset query (real PostgreSQL): what
a connection leaves behind must still not reach the next user of it."""

from collections.abc import AsyncIterator

import pytest

from devsupport.databases import fresh_database
from talent_shared.db import Migration, Pool, apply_migrations, create_pool

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(infrastructure: None) -> AsyncIterator[Pool]:
    """One connection, so each acquire gets the one the previous user released."""
    async with fresh_database("db_pool") as url:
        pool = await create_pool(url, max_size=1)
        yield pool
        await pool.close()


async def test_transaction_left_open_is_rolled_back_on_release(pool: Pool) -> None:
    await pool.execute("CREATE TABLE t (id int)")
    async with pool.acquire() as connection:
        await connection.execute("BEGIN")
        await connection.execute("INSERT INTO t VALUES (1)")
    async with pool.acquire() as connection:
        assert not connection.is_in_transaction()
        assert await connection.fetchval("SELECT count(*) FROM t") == 0


async def test_connection_holds_no_advisory_lock_after_migrations(pool: Pool) -> None:
    await apply_migrations(pool, [Migration("test/0001_a.sql", "CREATE TABLE a (id int)")])
    async with pool.acquire() as connection:
        locks = await connection.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
        )
    assert locks == 0
