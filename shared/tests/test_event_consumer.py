"""The consumer runner: skip unknown types, dead-letter poison, retry transient failures.

Unit tests with an in-memory broker stand-in; tests/ and the services' tests use the real broker.
"""

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from talent_shared.consumers import EventConsumer, RetryPolicy
from talent_shared.envelope import Event, new_event
from talent_shared.events import JobViewed

FAST_RETRY = RetryPolicy(attempts=3, base_delay_seconds=0.001, max_delay_seconds=0.002)


@dataclass
class Record:
    value: bytes | None
    topic: str = "jobs.views.v1"
    partition: int = 0
    offset: int = 0
    key: bytes | None = b"visitor"
    headers: tuple[tuple[str, bytes], ...] = (("event_type", b"JobViewed"),)


@dataclass
class Message:
    raw_message: tuple[Record, ...]


@dataclass
class RecordingBroker:
    published: list[dict[str, Any]] = field(default_factory=list)

    async def publish(self, value: bytes, topic: str, **kwargs: Any) -> None:
        self.published.append({"value": value, "topic": topic, **kwargs})


@dataclass
class Handler:
    failures: list[BaseException] = field(default_factory=list)
    batches: list[list[Event[Any]]] = field(default_factory=list)
    poison_ids: set[uuid.UUID] = field(default_factory=set)

    async def __call__(self, events: Sequence[Event[Any]]) -> None:
        if self.failures:
            raise self.failures.pop(0)
        if any(event.event_id in self.poison_ids for event in events):
            raise ValueError("cannot apply this event")
        self.batches.append(list(events))


def view_event() -> Event[Any]:
    data = JobViewed(visitor_id="v", job_id=uuid.uuid4(), viewed_at=datetime.now(UTC))
    return new_event(data, producer="test")


def consumer_with(handler: Handler, broker: RecordingBroker) -> EventConsumer:
    return EventConsumer(
        name="test",
        group="test-group",
        broker=broker,  # type: ignore[arg-type]
        handler=handler,
        retry=FAST_RETRY,
    )


async def test_events_of_a_batch_reach_the_handler_together() -> None:
    handler, broker = Handler(), RecordingBroker()
    events = [view_event(), view_event()]
    message = Message(tuple(Record(e.to_bytes(), offset=i) for i, e in enumerate(events)))
    await consumer_with(handler, broker).consume(message)  # type: ignore[arg-type]
    assert [[e.event_id for e in batch] for batch in handler.batches] == [
        [e.event_id for e in events]
    ]


async def test_unknown_event_type_is_skipped() -> None:
    handler, broker = Handler(), RecordingBroker()
    wire = json.loads(view_event().to_bytes())
    wire["event_type"] = "SomethingNew"
    await consumer_with(handler, broker).consume(Message((Record(json.dumps(wire).encode()),)))  # type: ignore[arg-type]
    assert handler.batches == []
    assert broker.published == []


async def test_unparseable_message_goes_to_dlq_with_error_headers() -> None:
    handler, broker = Handler(), RecordingBroker()
    good = view_event()
    message = Message((Record(b"{broken", offset=7), Record(good.to_bytes(), offset=8)))
    await consumer_with(handler, broker).consume(message)  # type: ignore[arg-type]
    [dead] = broker.published
    assert dead["topic"] == "jobs.views.v1.dlq"
    assert dead["value"] == b"{broken"
    assert dead["headers"]["dlq-error-type"] == "PoisonMessageError"
    assert dead["headers"]["dlq-original-offset"] == "7"
    assert dead["headers"]["event_type"] == "JobViewed"
    assert handler.batches == [[good]] or [e.event_id for e in handler.batches[0]] == [
        good.event_id
    ]


async def test_transient_failure_is_retried_then_succeeds() -> None:
    handler, broker = (
        Handler(failures=[asyncpg.CannotConnectNowError("db restarting")]),
        RecordingBroker(),
    )
    await consumer_with(handler, broker).consume(Message((Record(view_event().to_bytes()),)))  # type: ignore[arg-type]
    assert len(handler.batches) == 1
    assert broker.published == []


async def test_persistent_transient_failure_raises_for_redelivery() -> None:
    handler = Handler(failures=[ConnectionRefusedError()] * FAST_RETRY.attempts)
    broker = RecordingBroker()
    with pytest.raises(ConnectionRefusedError):
        await consumer_with(handler, broker).consume(Message((Record(view_event().to_bytes()),)))  # type: ignore[arg-type]
    assert broker.published == []  # never dead-lettered: the message comes again


async def test_event_that_keeps_failing_is_isolated_and_dead_lettered() -> None:
    poison, good = view_event(), view_event()
    handler, broker = Handler(poison_ids={poison.event_id}), RecordingBroker()
    message = Message((Record(poison.to_bytes(), offset=1), Record(good.to_bytes(), offset=2)))
    await consumer_with(handler, broker).consume(message)  # type: ignore[arg-type]
    assert [e.event_id for batch in handler.batches for e in batch] == [good.event_id]
    [dead] = broker.published
    assert dead["headers"]["dlq-original-offset"] == "1"
    assert dead["headers"]["dlq-error-type"] == "ValueError"


async def test_a_dead_letter_names_its_consumer_and_consumer_group() -> None:
    poison = view_event()
    handler, broker = Handler(poison_ids={poison.event_id}), RecordingBroker()
    await consumer_with(handler, broker).consume(Message((Record(poison.to_bytes()),)))  # type: ignore[arg-type]
    [dead] = broker.published
    assert (dead["headers"]["dlq-consumer"], dead["headers"]["dlq-consumer-group"]) == (
        "test",
        "test-group",
    )


async def test_a_poison_message_is_dead_lettered_once_when_its_batch_is_redelivered() -> None:
    handler = Handler(failures=[ConnectionRefusedError()] * FAST_RETRY.attempts)
    broker = RecordingBroker()
    message = Message((Record(b"{broken", offset=1), Record(view_event().to_bytes(), offset=2)))
    consumer = consumer_with(handler, broker)

    with pytest.raises(ConnectionRefusedError):
        await consumer.consume(message)  # type: ignore[arg-type]
    await consumer.consume(message)  # type: ignore[arg-type]  # the redelivery

    assert [dead["headers"]["dlq-original-offset"] for dead in broker.published] == ["1"]


@dataclass
class FailsTransientlyFor(Handler):
    """Fails for a lasting reason on a poison event, and transiently on ``flaky`` until
    ``flaky_failures`` is used up."""

    flaky: uuid.UUID | None = None
    flaky_failures: int = 0

    async def __call__(self, events: Sequence[Event[Any]]) -> None:
        if len(events) == 1 and events[0].event_id == self.flaky and self.flaky_failures:
            self.flaky_failures -= 1
            raise ConnectionRefusedError()
        await super().__call__(events)


async def test_a_culprit_is_dead_lettered_once_when_isolating_its_batch_fails_transiently() -> None:
    poison, flaky = view_event(), view_event()
    handler = FailsTransientlyFor(
        poison_ids={poison.event_id},
        flaky=flaky.event_id,
        flaky_failures=FAST_RETRY.attempts,
    )
    broker = RecordingBroker()
    message = Message((Record(poison.to_bytes(), offset=1), Record(flaky.to_bytes(), offset=2)))
    consumer = consumer_with(handler, broker)

    with pytest.raises(ConnectionRefusedError):
        await consumer.consume(message)  # type: ignore[arg-type]
    assert broker.published == []
    await consumer.consume(message)  # type: ignore[arg-type]  # the redelivery

    assert [dead["headers"]["dlq-original-offset"] for dead in broker.published] == ["1"]
    assert [e.event_id for batch in handler.batches for e in batch] == [flaky.event_id]


@pytest.mark.parametrize("attempt", range(8))
def test_backoff_stays_within_its_bounds(attempt: int) -> None:
    policy = RetryPolicy(base_delay_seconds=0.1, max_delay_seconds=2.0)
    ceiling = min(2.0, 0.1 * 2**attempt)
    assert ceiling / 2 <= policy.delay(attempt) <= ceiling
