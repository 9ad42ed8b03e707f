"""The inbox remembers handled events in the transaction of their effect (real PostgreSQL)."""

import uuid

import pytest

from talent_shared.db import Pool
from talent_shared.inbox import first_deliveries

pytestmark = pytest.mark.integration


async def test_first_delivery_is_new_then_known(shared_pool: Pool) -> None:
    event_id = uuid.uuid4()
    async with shared_pool.acquire() as connection:
        assert await first_deliveries(connection, consumer="welcome", event_ids=[event_id]) == {
            event_id
        }
        assert await first_deliveries(connection, consumer="welcome", event_ids=[event_id]) == set()


async def test_a_batch_returns_only_the_events_not_seen_before(shared_pool: Pool) -> None:
    seen, new = uuid.uuid4(), uuid.uuid4()
    async with shared_pool.acquire() as connection:
        await first_deliveries(connection, consumer="welcome", event_ids=[seen])
        fresh = await first_deliveries(connection, consumer="welcome", event_ids=[seen, new, new])
    assert fresh == {new}


async def test_consumers_track_the_same_event_separately(shared_pool: Pool) -> None:
    event_id = uuid.uuid4()
    async with shared_pool.acquire() as connection:
        assert await first_deliveries(connection, consumer="welcome", event_ids=[event_id])
        assert await first_deliveries(connection, consumer="alerts", event_ids=[event_id])


async def test_rolled_back_effect_lets_the_event_be_handled_again(shared_pool: Pool) -> None:
    event_id = uuid.uuid4()
    async with shared_pool.acquire() as connection:
        transaction = connection.transaction()
        await transaction.start()
        assert await first_deliveries(connection, consumer="welcome", event_ids=[event_id])
        await transaction.rollback()  # the effect failed
        assert await first_deliveries(connection, consumer="welcome", event_ids=[event_id])
