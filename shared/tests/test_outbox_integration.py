"""The transactional outbox and its relay, on the real PostgreSQL and Kafka broker."""

import asyncio
import uuid
from collections.abc import Coroutine, Generator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError
from faststream.kafka import KafkaBroker

from talent_shared.db import Database, Pool
from talent_shared.envelope import Event, new_event
from talent_shared.events import VIEWS_TOPIC, JobViewed
from talent_shared.outbox import OutboxRelay, enqueue
from tests.support.kafka import read_until, topic_reader

pytestmark = pytest.mark.integration


def view_for(visitor: str) -> Event[Any]:
    data = JobViewed(visitor_id=visitor, job_id=uuid.uuid4(), viewed_at=datetime.now(UTC))
    return new_event(data, producer="test")


async def enqueue_committed(pool: Pool, *events: Event[Any]) -> None:
    async with pool.acquire() as connection, connection.transaction():
        for event in events:
            await enqueue(connection, event)


async def pending_count(pool: Pool) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
    return count


async def test_relay_publishes_event_with_key_and_type_header(
    shared_pool: Pool, kafka_broker: KafkaBroker
) -> None:
    visitor = f"outbox-{uuid.uuid4().hex}"
    event = view_for(visitor)
    async with topic_reader(VIEWS_TOPIC) as reader:
        await enqueue_committed(shared_pool, event)
        assert await OutboxRelay(Database.of(shared_pool), kafka_broker).publish_pending() == 1
        records = await read_until(reader, lambda r: r.key == visitor.encode())
    [record] = [r for r in records if r.key == visitor.encode()]
    assert record.value == event.to_bytes()
    assert ("event_type", b"JobViewed") in record.headers
    assert await pending_count(shared_pool) == 0


async def test_event_committed_before_a_crash_is_published_by_the_next_relay(
    shared_pool: Pool, kafka_broker: KafkaBroker
) -> None:
    """No relay ran when the state change committed (the process died): nothing is stranded."""
    visitor = f"outbox-{uuid.uuid4().hex}"
    await enqueue_committed(shared_pool, view_for(visitor))
    relay = OutboxRelay(Database.of(shared_pool), kafka_broker, poll_interval_seconds=0.05)
    async with topic_reader(VIEWS_TOPIC) as reader:
        relay.start()
        try:
            await read_until(reader, lambda r: r.key == visitor.encode())
        finally:
            await relay.stop()


async def test_rolled_back_transaction_leaves_nothing_to_publish(shared_pool: Pool) -> None:
    async with shared_pool.acquire() as connection:
        transaction = connection.transaction()
        await transaction.start()
        await enqueue(connection, view_for("rolled-back"))
        await transaction.rollback()  # the state change failed
    assert await pending_count(shared_pool) == 0


async def test_events_are_published_in_commit_order(
    shared_pool: Pool, kafka_broker: KafkaBroker
) -> None:
    visitor = f"outbox-{uuid.uuid4().hex}"
    events = [view_for(visitor) for _ in range(30)]
    for event in events:
        await enqueue_committed(shared_pool, event)
    async with topic_reader(VIEWS_TOPIC) as reader:
        await OutboxRelay(Database.of(shared_pool), kafka_broker, batch_size=7).publish_pending()
        relay = OutboxRelay(
            Database.of(shared_pool), kafka_broker, batch_size=7, poll_interval_seconds=0.05
        )
        relay.start()
        try:
            last = str(events[-1].event_id).encode()
            records = await read_until(reader, lambda r: last in r.value)
        finally:
            await relay.stop()
    mine = [r.value for r in records if r.key == visitor.encode()]
    assert mine == [event.to_bytes() for event in events]


class UnreachableBroker:
    """Stands in for a broker whose cluster is down: every publish fails."""

    async def publish(self, *_args: Any, **_kwargs: Any) -> None:
        raise KafkaConnectionError("broker down")


async def test_failed_publish_keeps_the_row_pending_with_backoff(shared_pool: Pool) -> None:
    await enqueue_committed(shared_pool, view_for("kafka-down"))
    relay = OutboxRelay(Database.of(shared_pool), UnreachableBroker())  # type: ignore[arg-type]
    assert await relay.publish_pending() == 0
    row = await shared_pool.fetchrow(
        "SELECT attempts, last_error, next_attempt_at > now() AS backing_off FROM outbox"
    )
    assert row is not None
    assert row["attempts"] == 1
    assert "broker down" in row["last_error"]
    assert row["backing_off"]


async def test_rows_wait_while_kafka_is_down_then_go(
    shared_pool: Pool, kafka_broker: KafkaBroker
) -> None:
    visitor = f"outbox-{uuid.uuid4().hex}"
    await enqueue_committed(shared_pool, view_for(visitor))
    await OutboxRelay(Database.of(shared_pool), UnreachableBroker()).publish_pending()  # type: ignore[arg-type]
    await shared_pool.execute("UPDATE outbox SET next_attempt_at = now()")  # backoff elapsed
    async with topic_reader(VIEWS_TOPIC) as reader:
        assert await OutboxRelay(Database.of(shared_pool), kafka_broker).publish_pending() == 1
        await read_until(reader, lambda r: r.key == visitor.encode())
    assert await pending_count(shared_pool) == 0


async def test_two_relays_publish_each_event_once(
    shared_pool: Pool, kafka_broker: KafkaBroker
) -> None:
    visitor = f"outbox-{uuid.uuid4().hex}"
    events = [view_for(visitor) for _ in range(50)]
    await enqueue_committed(shared_pool, *events)
    first = OutboxRelay(Database.of(shared_pool), kafka_broker, batch_size=5)
    second = OutboxRelay(Database.of(shared_pool), kafka_broker, batch_size=5)
    async with topic_reader(VIEWS_TOPIC) as reader:
        while await pending_count(shared_pool):
            await asyncio.gather(first.publish_pending(), second.publish_pending())
        last = str(events[-1].event_id).encode()
        records = await read_until(reader, lambda r: last in r.value)
    mine = [r.value for r in records if r.key == visitor.encode()]
    assert sorted(mine) == sorted(event.to_bytes() for event in events)
    assert len(mine) == len(set(mine))


class FailingAfter:
    """Stands in for a broker that acknowledges the first ``acked`` sends and fails the next."""

    def __init__(self, acked: int) -> None:
        self.acked = acked
        self.sent = 0

    async def publish(self, *_args: Any, **_kwargs: Any) -> "asyncio.Future[None]":
        ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.sent < self.acked:
            ack.set_result(None)
        else:
            ack.set_exception(KafkaConnectionError("not acknowledged"))
        self.sent += 1
        return ack


async def test_rows_after_the_first_unacknowledged_one_stay_pending(shared_pool: Pool) -> None:
    await enqueue_committed(shared_pool, *(view_for(f"prefix-{n}") for n in range(5)))
    relay = OutboxRelay(Database.of(shared_pool), FailingAfter(acked=2))  # type: ignore[arg-type]
    assert await relay.publish_pending() == 2
    rows = await shared_pool.fetch(
        "SELECT published_at IS NOT NULL AS published, last_error FROM outbox ORDER BY id"
    )
    assert [row["published"] for row in rows] == [True, True, False, False, False]
    assert "not acknowledged" in rows[2]["last_error"]


class SuspensionCounter:
    """Awaits a coroutine and counts how often it gives the event loop back: each time is at
    least one turn of the loop, which in a process busy with requests costs milliseconds."""

    def __init__(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        self.coroutine = coroutine
        self.suspensions = 0

    def __await__(self) -> Generator[Any, Any, Any]:
        steps = self.coroutine.__await__()
        try:
            awaited = steps.send(None)
            while True:
                self.suspensions += 1
                try:
                    result = yield awaited
                except BaseException as error:  # handed on to the coroutine
                    awaited = steps.throw(error)
                else:
                    awaited = steps.send(result)
        except StopIteration as done:
            return done.value


async def test_relay_publishes_a_batch_without_a_loop_turn_per_row(
    shared_pool: Pool, kafka_broker: KafkaBroker
) -> None:
    """Before, each row cost two turns (one ``wait_for`` to send, one for its ack), so in the
    busy signup process a batch of 200 took a second to reach Kafka."""
    await enqueue_committed(shared_pool, *(view_for(f"turns-{n}") for n in range(200)))
    relay = OutboxRelay(Database.of(shared_pool), kafka_broker)
    counted = SuspensionCounter(relay.publish_pending())
    assert await counted == 200
    assert counted.suspensions < 50


class NeverAcknowledging:
    """Stands in for a broker that takes every send and never answers."""

    def __init__(self) -> None:
        self.acks: list[asyncio.Future[None]] = []

    async def publish(self, *_args: Any, **_kwargs: Any) -> "asyncio.Future[None]":
        self.acks.append(asyncio.get_running_loop().create_future())
        return self.acks[-1]


async def test_sends_unacknowledged_within_the_timeout_stay_pending(shared_pool: Pool) -> None:
    await enqueue_committed(shared_pool, *(view_for(f"silent-{n}") for n in range(3)))
    broker = NeverAcknowledging()
    relay = OutboxRelay(Database.of(shared_pool), broker, publish_timeout_seconds=0.1)  # type: ignore[arg-type]
    assert await relay.publish_pending() == 0
    assert await pending_count(shared_pool) == 3
    assert all(ack.cancelled() for ack in broker.acks)  # given up, nothing left dangling
    last_error = await shared_pool.fetchval("SELECT last_error FROM outbox ORDER BY id LIMIT 1")
    assert "not acknowledged in time" in last_error
