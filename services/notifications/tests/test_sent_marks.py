"""Marking sent deliveries as a group commit (unit: an in-memory stand-in for the pool)."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from talent_notifications.delivery import SentMarks
from talent_shared.db import Database


class RecordingPool:
    """Records the delivery ids of each UPDATE; ``hold`` keeps an UPDATE in flight until set."""

    def __init__(self, error: Exception | None = None) -> None:
        self.updates: list[list[uuid.UUID]] = []
        self.hold = asyncio.Event()
        self.hold.set()
        self.started = asyncio.Event()
        self.error = error

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator["RecordingPool"]:
        yield self

    async def execute(
        self, _query: str, delivery_ids: list[uuid.UUID], _tokens: list[uuid.UUID]
    ) -> None:
        self.updates.append(list(delivery_ids))
        self.started.set()
        await self.hold.wait()
        if self.error is not None:
            raise self.error


def marks_on(pool: RecordingPool) -> SentMarks:
    return SentMarks(Database.of(pool))  # type: ignore[arg-type]


def leased(delivery_id: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    """The delivery with a lease token of its own, as the worker holds it."""
    return delivery_id, uuid.uuid4()


async def test_sends_ending_together_are_marked_in_one_update() -> None:
    pool = RecordingPool()
    marks = marks_on(pool)
    ids = [uuid.uuid4() for _ in range(10)]
    await asyncio.gather(*(marks.mark(leased(delivery)) for delivery in ids))
    assert pool.updates == [ids]


async def test_a_send_ending_during_an_update_is_marked_by_the_next_one() -> None:
    pool = RecordingPool()
    marks = marks_on(pool)
    first, second, third = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    pool.hold.clear()
    in_flight = asyncio.create_task(marks.mark(leased(first)))
    await pool.started.wait()
    later = [
        asyncio.create_task(marks.mark(leased(second))),
        asyncio.create_task(marks.mark(leased(third))),
    ]
    await asyncio.sleep(0)
    pool.hold.set()
    await asyncio.gather(in_flight, *later)
    assert pool.updates == [[first], [second, third]]


async def test_every_waiting_sender_gets_the_database_error() -> None:
    pool = RecordingPool(error=ConnectionError("database down"))
    marks = marks_on(pool)
    results: list[Any] = await asyncio.gather(
        *(marks.mark(leased(uuid.uuid4())) for _ in range(3)), return_exceptions=True
    )
    assert [type(result) for result in results] == [ConnectionError] * 3


async def test_marks_go_on_after_a_failed_update() -> None:
    pool = RecordingPool(error=ConnectionError("database down"))
    marks = marks_on(pool)
    with pytest.raises(ConnectionError):
        await marks.mark(leased(uuid.uuid4()))
    pool.error = None
    delivery = uuid.uuid4()
    await marks.mark(leased(delivery))
    assert pool.updates[-1] == [delivery]
