"""Force two transactions to cross: the second runs while the first is still open."""

import asyncio
from collections.abc import Awaitable, Callable

from talent_shared.db import Connection, Pool
from tests.support.infra import eventually

Work = Callable[[Connection], Awaitable[None]]


async def waits_on_a_lock(pool: Pool, connection: Connection) -> bool:
    async with pool.acquire() as observer:
        wait = await observer.fetchval(
            "SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1",
            connection.get_server_pid(),
        )
    return bool(wait == "Lock")


async def cross(pool: Pool, first: Work, second: Work, *, timeout: float = 10.0) -> None:
    """Do ``first`` in a transaction left open, then ``second`` in another transaction while the
    first is open; commit the first only once the second has finished or waits on a lock (the
    only ways it can go on), then let the second finish."""
    async with pool.acquire() as first_connection, pool.acquire() as second_connection:
        first_transaction = first_connection.transaction()
        await first_transaction.start()
        try:
            await first(first_connection)

            async def do_second() -> None:
                async with second_connection.transaction():
                    await second(second_connection)

            second_done = asyncio.create_task(do_second())

            async def second_finished_or_waits() -> bool:
                return second_done.done() or await waits_on_a_lock(pool, second_connection)

            if not await eventually(second_finished_or_waits, timeout=timeout, interval=0.02):
                raise TimeoutError("the second transaction neither finished nor waited on a lock")
        except BaseException:
            await first_transaction.rollback()
            raise
        await first_transaction.commit()
        await asyncio.wait_for(second_done, timeout=timeout)
