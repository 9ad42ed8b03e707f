"""The transactional outbox: write an event with the state change, publish it after the commit.

``enqueue`` inserts the event in the caller's transaction. The ``OutboxRelay`` (one active per
database, elected with an advisory lock) publishes pending rows in id order with the idempotent
producer and marks them published. If Kafka is down the rows wait, with backoff, and go when it is
back; if the process dies between commit and publish, the rows are still pending and the next relay
publishes them. Delivery is at least once: consumers deduplicate by ``event_id``.

Order: rows are published in id order. Write the outbox row *after* updating (and so locking) the
entity row, so two changes of one entity get ids in commit order.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import asyncpg
from faststream.kafka import KafkaBroker
from prometheus_client import Counter

from talent_shared.background import BackgroundLoop
from talent_shared.db import Connection, Database
from talent_shared.envelope import Event
from talent_shared.events import EventData
from talent_shared.logging import get_logger
from talent_shared.tracing import TraceContext, continued_trace, current_trace_context

RELAY_LOCK_ID = 7_461_722_002
PUBLISHED_RETENTION = timedelta(days=7)
PRUNE_EVERY = timedelta(minutes=10)

log = get_logger(__name__)

OUTBOX_PUBLISHED = Counter("talent_outbox_published_total", "Outbox events published to Kafka")
OUTBOX_FAILURES = Counter("talent_outbox_publish_failures_total", "Failed outbox publish attempts")


ENQUEUE = """INSERT INTO outbox (event_id, topic, message_key, event_type, payload, headers,
                                 trace_context)
             VALUES ($1, $2, $3, $4, $5, $6, $7)"""


async def enqueue(connection: Connection, event: Event[EventData]) -> None:
    """Add ``event`` to the outbox inside the caller's transaction, with the trace context of
    the request (when traced), which the relay continues when it publishes the row."""
    await connection.execute(ENQUEUE, *_row(event, current_trace_context()))


async def enqueue_all(connection: Connection, events: Sequence[Event[EventData]]) -> None:
    """Add many events, in order, in one pipelined round trip (a feed's changes)."""
    trace_context = current_trace_context()
    await connection.executemany(ENQUEUE, [_row(event, trace_context) for event in events])


def _row(event: Event[EventData], trace_context: TraceContext | None) -> tuple[object, ...]:
    return (
        event.event_id,
        event.data.topic,
        event.data.key,
        event.envelope.event_type,
        event.to_bytes(),
        event.headers(),
        trace_context,
    )


class OutboxRelay(BackgroundLoop):
    """Publishes the outbox; ``wake()`` after committing a transaction that enqueued events.
    Stopping lets the cycle in progress end (a publish in flight is not cut off)."""

    def __init__(
        self,
        database: Database,
        broker: KafkaBroker,
        *,
        batch_size: int = 200,
        poll_interval_seconds: float = 0.5,
        publish_timeout_seconds: float = 10.0,
        max_backoff_seconds: float = 30.0,
    ) -> None:
        super().__init__(
            "outbox-relay",
            self._cycle,
            interval_seconds=poll_interval_seconds,
            stop_timeout_seconds=publish_timeout_seconds + 5,
        )
        self._database = database
        self._broker = broker
        self._batch_size = batch_size
        self._publish_timeout = publish_timeout_seconds
        self._max_backoff = max_backoff_seconds
        self._last_prune = 0.0

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """A transaction for a change and the events it enqueues, on a connection of its own;
        once it has committed, the relay publishes them soon (an error rolls back, nothing
        wakes)."""
        async with self._database.pool.acquire() as connection, connection.transaction():
            yield connection
        self.wake()

    async def _cycle(self) -> bool:
        return await self.publish_pending() == self._batch_size

    async def publish_pending(self) -> int:
        """One relay cycle: publish the oldest pending rows; returns how many were published."""
        async with self._database.pool.acquire() as connection, connection.transaction():
            if not await connection.fetchval("SELECT pg_try_advisory_xact_lock($1)", RELAY_LOCK_ID):
                return 0  # another replica's relay is publishing
            rows = await connection.fetch(
                """SELECT id, topic, message_key, payload, headers, trace_context, attempts,
                          next_attempt_at > now() AS backing_off
                   FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT $1""",
                self._batch_size,
            )
            if not rows or rows[0]["backing_off"]:
                return 0
            published, error = await self._publish_in_order(rows)
            if published:
                await connection.execute(
                    """UPDATE outbox SET published_at = now(), attempts = attempts + 1
                       WHERE id = ANY($1::bigint[])""",
                    published,
                )
            if len(published) < len(rows):
                await self._record_failure(connection, rows[len(published)], error)
            await self._prune_now_and_then(connection)
        OUTBOX_PUBLISHED.inc(len(published))
        return len(published)

    async def _publish_in_order(
        self, rows: list[asyncpg.Record]
    ) -> tuple[list[int], BaseException | None]:
        """Send every row without waiting in between, then keep the prefix Kafka acknowledged.

        Rows after the first failure are not marked published, even if Kafka took them; they are
        sent again after the failed one (consumers deduplicate), so no row overtakes an earlier one.

        One deadline covers the sends and one the acknowledgements, not one per row: a per-row
        ``wait_for`` costs one or two turns of the event loop each, and in a process busy with
        HTTP requests a turn takes milliseconds, so a batch of 200 rows took a second.
        """
        futures: list[asyncio.Future[Any]] = []
        error: BaseException | None = None
        try:
            async with asyncio.timeout(self._publish_timeout):
                for row in rows:
                    futures.append(await self._send(row))
        except Exception as publish_error:
            error = publish_error
        if futures:
            await asyncio.wait(futures, timeout=self._publish_timeout)
        failures = [_failure_of(future) for future in futures]  # each one retrieved
        published: list[int] = []
        for row, failure in zip(rows, failures, strict=False):
            if failure is not None:
                return published, failure
            published.append(row["id"])
        return published, error

    async def _send(self, row: asyncpg.Record) -> "asyncio.Future[Any]":
        """Hand ``row`` to the producer; the future is Kafka's acknowledgement. Sent in the
        request's trace: the Kafka spans and headers continue it."""
        with continued_trace(row["trace_context"]):
            future: asyncio.Future[Any] = await self._broker.publish(
                row["payload"],
                row["topic"],
                key=row["message_key"].encode(),
                headers=row["headers"],
                no_confirm=True,
            )
        return future

    async def _record_failure(
        self, connection: Connection, row: asyncpg.Record, error: BaseException | None
    ) -> None:
        backoff = min(self._max_backoff, 0.5 * 2 ** min(row["attempts"], 10))
        await connection.execute(
            """UPDATE outbox SET attempts = attempts + 1, last_error = $2,
                      next_attempt_at = now() + make_interval(secs => $3)
               WHERE id = $1""",
            row["id"],
            repr(error)[:1000],
            backoff,
        )
        OUTBOX_FAILURES.inc()
        log.warning("outbox publish failed, will retry", outbox_id=row["id"], backoff=backoff)

    async def _prune_now_and_then(self, connection: Connection) -> None:
        """Delete long-published rows, at most once per ``PRUNE_EVERY``."""
        now = time.monotonic()
        if now - self._last_prune < PRUNE_EVERY.total_seconds():
            return
        self._last_prune = now
        await connection.execute(
            "DELETE FROM outbox WHERE published_at < now() - $1::interval", PUBLISHED_RETENTION
        )


def _failure_of(ack: "asyncio.Future[Any]") -> BaseException | None:
    """None when Kafka acknowledged the send, else why not; one still unanswered is given up."""
    if not ack.done():
        ack.cancel()
        return TimeoutError("not acknowledged in time")
    if ack.cancelled():
        return ConnectionError("the send was cancelled")
    return ack.exception()
