"""Running a subscriber's handler over a batch: retries, skipped unknown types, dead letters.

Ack policy (see :func:`talent_shared.kafka.subscribe`): a handler returns only after the database
transaction that applied its messages has committed, and only then is the offset committed.
Transient failures (database or broker unreachable) are retried in the handler with bounded
exponential backoff and jitter; if they persist the handler raises, FastStream seeks back, and the
same messages come again: nothing is skipped. A message that cannot be parsed, or that keeps failing
for a reason that is not transient, goes to ``<topic>.dlq`` with the error in its headers, and the
consumer carries on.
"""

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Any, Generic, Protocol, TypeVar

import structlog
from aiokafka import ConsumerRecord
from faststream.kafka import KafkaBroker
from faststream.kafka.message import KafkaMessage
from prometheus_client import Counter, Histogram

from talent_shared.envelope import Event, PoisonMessageError, parse_event
from talent_shared.errors import is_transient
from talent_shared.events import EventData, dead_letter_topic
from talent_shared.logging import get_logger
from talent_shared.tracing import receiving

log = get_logger(__name__)

EVENTS_HANDLED = Counter(
    "talent_events_handled_total",
    "Kafka messages taken off a topic, by consumer and outcome",
    ["consumer", "outcome"],
)

BATCH_SIZE = Histogram(
    "talent_consumer_batch_size",
    "Events handed to a handler at once",
    ["consumer"],
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000),
)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    base_delay_seconds: float = 0.2
    max_delay_seconds: float = 5.0

    def delay(self, attempt: int) -> float:
        """Exponential backoff with full jitter for the given 0-based attempt."""
        ceiling = min(self.max_delay_seconds, self.base_delay_seconds * 2**attempt)
        return random.uniform(ceiling / 2, ceiling)

    async def run(self, work: Callable[[], Awaitable[None]]) -> None:
        for attempt in range(self.attempts):
            try:
                await work()
                return
            except Exception:
                if attempt == self.attempts - 1:
                    raise
                await asyncio.sleep(self.delay(attempt))


def records_of(message: KafkaMessage) -> tuple[ConsumerRecord[Any, Any], ...]:
    raw = message.raw_message
    return raw if isinstance(raw, tuple) else (raw,)


def _text(value: bytes | str | None) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value or ""


async def publish_dead_letter(
    broker: KafkaBroker,
    record: ConsumerRecord[Any, Any],
    *,
    consumer: str,
    group: str,
    error: BaseException,
) -> None:
    headers = {key: _text(value) for key, value in record.headers or ()}
    headers.update(
        {
            "dlq-error": str(error)[:1000] or type(error).__name__,
            "dlq-error-type": type(error).__name__,
            "dlq-consumer": consumer,
            # The group tells replicas of one deployment from another stack on the same topics.
            "dlq-consumer-group": group,
            "dlq-original-topic": record.topic,
            "dlq-original-partition": str(record.partition),
            "dlq-original-offset": str(record.offset),
        }
    )
    await broker.publish(
        record.value or b"",
        dead_letter_topic(record.topic),
        key=record.key,
        headers=headers,
    )
    EVENTS_HANDLED.labels(consumer, "dead_lettered").inc()
    log.warning(
        "message sent to dead-letter topic",
        consumer=consumer,
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        error_type=type(error).__name__,
    )


BatchHandler = Callable[[Sequence[Event[EventData]]], Awaitable[None]]
Parsed = tuple[ConsumerRecord[Any, Any], Event[EventData]]
DeadLetter = tuple[ConsumerRecord[Any, Any], BaseException]


@dataclass(frozen=True)
class EventConsumer:
    """Runs one subscriber's handler over a message or a batch, with retries and dead letters.

    The handler gets the parsed events of known types and must apply them in one transaction
    (idempotently: a redelivered batch is handled again). Unknown event types are skipped.
    """

    name: str
    group: str  # the Kafka consumer group its subscriber runs in
    broker: KafkaBroker
    handler: BatchHandler
    retry: RetryPolicy = RetryPolicy()

    @staticmethod
    async def undecoded(message: KafkaMessage) -> None:
        """The subscriber's ``decoder``: :meth:`consume` parses the raw records itself, so
        FastStream's own decoding (a message object and a JSON parse per record, a quarter of
        the projector's CPU time) is skipped."""
        return None

    async def consume(self, message: KafkaMessage) -> None:
        """Handle a message or batch; dead letters are published only once nothing is left to
        fail transiently. A transient failure raises, so the batch is delivered again, and a
        dead letter already published for it would be published a second time."""
        parsed, dead = self._parse(records_of(message))
        if parsed:
            dead += await self._handle(parsed)
        for record, error in sorted(
            dead, key=lambda letter: (letter[0].partition, letter[0].offset)
        ):
            await publish_dead_letter(
                self.broker, record, consumer=self.name, group=self.group, error=error
            )

    async def _handle(self, parsed: list[Parsed]) -> list[DeadLetter]:
        BATCH_SIZE.labels(self.name).observe(len(parsed))
        with receiving(parsed):  # each event's trace context, for the handler's spans
            try:
                await self.retry.run(lambda: self.handler([event for _, event in parsed]))
            except Exception as error:
                if is_transient(error):
                    log.warning(
                        "transient failure, messages will be redelivered", consumer=self.name
                    )
                    raise
                return await self._isolate_failures(parsed)
        EVENTS_HANDLED.labels(self.name, "handled").inc(len(parsed))
        return []

    def _parse(
        self, records: Sequence[ConsumerRecord[Any, Any]]
    ) -> tuple[list[Parsed], list[DeadLetter]]:
        parsed: list[Parsed] = []
        poison: list[DeadLetter] = []
        for record in records:
            try:
                event = parse_event(record.value)
            except PoisonMessageError as error:
                poison.append((record, error))
                continue
            if event is None:
                EVENTS_HANDLED.labels(self.name, "skipped_unknown_type").inc()
                continue
            parsed.append((record, event))
        return parsed, poison

    async def _isolate_failures(self, parsed: list[Parsed]) -> list[DeadLetter]:
        """A batch failed for a lasting reason: handle its events one by one to find the
        culprits, which are returned to be dead-lettered."""
        culprits: list[DeadLetter] = []
        for record, event in parsed:
            with structlog.contextvars.bound_contextvars(
                event_id=str(event.event_id), correlation_id=event.envelope.correlation_id
            ):
                try:
                    await self.retry.run(lambda event=event: self.handler([event]))  # type: ignore[misc]
                except Exception as error:
                    if is_transient(error):
                        raise
                    log.exception("event keeps failing", consumer=self.name)
                    culprits.append((record, error))
                else:
                    EVENTS_HANDLED.labels(self.name, "handled").inc()
        return culprits


Context = TypeVar("Context", contravariant=True)
Data = TypeVar("Data", bound=EventData)


class RunHandler(Protocol[Context]):
    def __call__(self, context: Context, events: Sequence[Event[Any]], /) -> Awaitable[None]: ...


class EventRouter(Generic[Context]):
    """One handler per event type. :meth:`route` walks a batch in order and hands each run of
    consecutive events of one type to that type's handler at once (a burst of sign-ups is one
    call, in a constant number of round trips); event types without a handler are passed over.
    ``context`` is what every handler of the router works with (a transaction, a pool)."""

    def __init__(self) -> None:
        self._handlers: dict[type[EventData], RunHandler[Context]] = {}

    def on(
        self, data_type: type[Data]
    ) -> Callable[
        [Callable[[Context, Sequence[Event[Data]]], Awaitable[None]]],
        Callable[[Context, Sequence[Event[Data]]], Awaitable[None]],
    ]:
        def register(
            handler: Callable[[Context, Sequence[Event[Data]]], Awaitable[None]],
        ) -> Callable[[Context, Sequence[Event[Data]]], Awaitable[None]]:
            if data_type in self._handlers:
                raise ValueError(f"{data_type.event_type} has a handler already")
            self._handlers[data_type] = handler
            return handler

        return register

    @property
    def event_types(self) -> frozenset[type[EventData]]:
        return frozenset(self._handlers)

    def handler(self, context: Context) -> BatchHandler:
        """The batch handler that routes every batch with ``context``."""

        async def route(events: Sequence[Event[EventData]]) -> None:
            await self.route(context, events)

        return route

    async def route(self, context: Context, events: Sequence[Event[EventData]]) -> None:
        for data_type, run in groupby(events, key=lambda event: type(event.data)):
            handler = self._handlers.get(data_type)
            if handler is not None:
                await handler(context, list(run))
