"""Kafka plumbing on FastStream: the broker factory, topics, dead letters and the consumer runner.

Ack policy: subscribers use ``NACK_ON_ERROR`` with auto-commit off. A handler returns only after the
database transaction that applied its messages has committed, and only then is the offset committed.
Transient failures (database or broker unreachable) are retried in the handler with bounded
exponential backoff and jitter; if they persist the handler raises, FastStream seeks back, and the
same messages come again: nothing is skipped. A message that cannot be parsed, or that keeps failing
for a reason that is not transient, goes to ``<topic>.dlq`` with the error in its headers, and the
consumer carries on.
"""

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog
from aiokafka import AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.message import KafkaMessage
from faststream.kafka.publisher.state import RealProducer
from opentelemetry import propagate
from prometheus_client import Counter, Histogram

from talent_shared.errors import is_transient
from talent_shared.events import (
    TOPICS,
    Event,
    EventRecord,
    PoisonMessageError,
    dead_letter_topic,
    event_headers,
    parse_event,
)
from talent_shared.logging import get_logger
from talent_shared.record_batches import record_batches_of
from talent_shared.settings import ServiceSettings
from talent_shared.tracing import receiving

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

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


def create_broker(
    settings: ServiceSettings, *, tracer_provider: "TracerProvider | None" = None
) -> KafkaBroker:
    """A broker whose producer waits for every in-sync replica and never duplicates on retry.
    With a tracer provider, FastStream traces every publish and consume (W3C headers)."""
    middlewares = []
    if tracer_provider is not None:
        from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware

        middlewares.append(KafkaTelemetryMiddleware(tracer_provider=tracer_provider))
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=settings.service_name,
        acks="all",
        enable_idempotence=True,
        # Concurrent requests share a batch: a few ms of linger, a larger batch and compression
        # raise throughput without weakening acks=all (each send still waits for its ack).
        linger_ms=5,
        max_batch_size=256 * 1024,
        # zstd at its default level: on our events 0.6 µs a record and 6.5x smaller. aiokafka's
        # lz4 compresses at level 9 (its HC mode), which cannot be changed: 2.4 µs a record for
        # 4x, 12 % of the jobs process's CPU under batched ingest.
        compression_type="zstd",
        request_timeout_ms=int(settings.kafka_publish_timeout_seconds * 1000),
        graceful_timeout=settings.graceful_timeout_seconds,
        logger=get_logger(f"faststream.{settings.service_name}"),
        middlewares=middlewares,
    )


def subscriber_options(settings: ServiceSettings, name: str) -> dict[str, Any]:
    """Options every subscriber shares; see the module docstring for the ack policy."""
    return {
        "group_id": settings.consumer_group(name),
        "ack_policy": AckPolicy.NACK_ON_ERROR,
        "auto_offset_reset": settings.kafka_auto_offset_reset,
        # Longer than the worst case of RetryPolicy, so a retrying handler keeps its partitions.
        "max_poll_interval_ms": 300_000,
        # Short sessions let a group recover fast after a broker restart or a crashed replica
        # (6 s is the broker's default minimum).
        "session_timeout_ms": 6_000,
        "heartbeat_interval_ms": 2_000,
    }


async def ensure_topics(
    broker: KafkaBroker,
    *,
    partitions: int,
    replication_factor: int,
    topics: Iterable[str] = TOPICS,
) -> None:
    """Create the contract's topics and their dead-letter topics when missing."""
    wanted = {name for topic in topics for name in (topic, dead_letter_topic(topic))}
    admin = broker.config.admin_client
    missing = wanted - set(await admin.list_topics())
    if not missing:
        return
    with contextlib.suppress(TopicAlreadyExistsError):  # another replica created it first
        await admin.create_topics(
            [NewTopic(name, partitions, replication_factor) for name in sorted(missing)]
        )
    log.info("topics created", topics=sorted(missing))


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


BatchHandler = Callable[[Sequence[Event]], Awaitable[None]]
Parsed = tuple[ConsumerRecord[Any, Any], Event]
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


class PublishFailedError(Exception):
    """Kafka did not acknowledge the event in time; the caller should answer 503."""


async def publish_event(broker: KafkaBroker, record: EventRecord, *, timeout: float) -> None:
    """Publish and wait for the acknowledgement of every in-sync replica, within ``timeout``."""
    try:
        await asyncio.wait_for(
            broker.publish(
                record.value,
                record.topic,
                key=record.key,
                headers=event_headers(record.event_type, record.correlation_id),
            ),
            timeout,
        )
    except (TimeoutError, KafkaError, OSError) as error:
        raise PublishFailedError(f"{record.event_type} not acknowledged: {error!r}") from error


async def publish_events(
    broker: KafkaBroker, records: Sequence[EventRecord], *, timeout: float
) -> None:
    """Publish many events and wait, within ``timeout``, until every one is acknowledged by every
    in-sync replica (the broker's idempotent, acks=all producer).

    The records join the open batch of their partition that every concurrent request appends to
    (:mod:`talent_shared.record_batches`): ``producer.send`` and FastStream's publish around it
    cost more per record than the rest of the request. Each record has the key and headers
    :func:`publish_event` gives it, and the producer's own partitioner places it, so the
    partition of a key, and the order of its events, do not depend on the endpoint used."""
    if not records:
        return
    try:
        async with asyncio.timeout(timeout):
            acks = await _append_all(_producer_of(broker), records, timeout=timeout)
            # Not gather: a batch's future is shared with other requests, and a cancelled
            # request must not cancel it for them.
            await asyncio.wait(acks)
    except (TimeoutError, KafkaError, OSError) as error:
        raise PublishFailedError(f"{len(records)} events not acknowledged: {error!r}") from error
    failures = [ack.exception() for ack in acks if ack.exception() is not None]
    if failures:
        raise PublishFailedError(f"{len(records)} events not acknowledged: {failures[0]!r}")


def _producer_of(broker: KafkaBroker) -> AIOKafkaProducer:
    """The aiokafka producer the started broker publishes with (a second producer would be a
    second idempotent session and a second connection)."""
    state = getattr(broker.config.producer, "_producer", None)
    if not isinstance(state, RealProducer):
        raise KafkaConnectionError("the broker is not connected")
    return state.producer


async def _append_all(
    producer: AIOKafkaProducer, records: Sequence[EventRecord], *, timeout: float
) -> set["asyncio.Future[None]"]:
    """Append every record to its partition's open batch; returns the batches' acknowledgements."""
    batches = record_batches_of(producer, timeout=timeout)
    for topic in {record.topic for record in records}:
        await batches.ready(topic)
    # One trace context for all: the request's, so the consumers' spans join its trace.
    trace_headers: dict[str, str] = {}
    propagate.inject(trace_headers)
    # A request's records share their event type and correlation id: their headers too.
    headers: dict[tuple[str, str], list[tuple[str, bytes]]] = {}
    acks = set()
    for record in records:
        kind = (record.event_type, record.correlation_id)
        if kind not in headers:
            headers[kind] = _record_headers(*kind, trace_headers)
        acks.add(batches.append(record.topic, record.key, record.value, headers[kind]))
    return acks


def _record_headers(
    event_type: str, correlation_id: str, trace_headers: Mapping[str, str]
) -> list[tuple[str, bytes]]:
    """What :func:`publish_event` sends, in its order: FastStream's (an empty content-type for
    bytes, its correlation id, which ours replaces), then ours, then the trace context."""
    headers = {
        "content-type": "",
        "correlation_id": correlation_id,
        **event_headers(event_type, correlation_id),
        **trace_headers,
    }
    return [(name, value.encode()) for name, value in headers.items()]
