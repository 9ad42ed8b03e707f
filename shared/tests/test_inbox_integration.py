"""The inbox remembers handled events in the transaction of their effect (real PostgreSQL)."""

import uuid

import pytest

from talent_shared.db import Pool
from talent_shared.inbox import first_delivery

pytestmark = pytest.mark.integration


async def test_first_delivery_is_true_then_false(shared_pool: Pool) -> None:
    event_id = uuid.uuid4()
    async with shared_pool.acquire() as connection:
        assert await first_delivery(connection, consumer="welcome", event_id=event_id)
        assert not await first_delivery(connection, consumer="welcome", event_id=event_id)


async def test_consumers_track_the_same_event_separately(shared_pool: Pool) -> None:
    event_id = uuid.uuid4()
    async with shared_pool.acquire() as connection:
        assert await first_delivery(connection, consumer="welcome", event_id=event_id)
        assert await first_delivery(connection, consumer="alerts", event_id=event_id)


async def test_rolled_back_effect_lets_the_event_be_handled_again(shared_pool: Pool) -> None:
    event_id = uuid.uuid4()
    async with shared_pool.acquire() as connection:
        transaction = connection.transaction()
        await transaction.start()
        assert await first_delivery(connection, consumer="welcome", event_id=event_id)
        await transaction.rollback()  # the effect failed
        assert await first_delivery(connection, consumer="welcome", event_id=event_id)
