"""Publishing events straight to Kafka (job views: no state change, so no outbox), waiting for
the acknowledgement of every in-sync replica."""

import asyncio
from collections.abc import Mapping, Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaError
from faststream.kafka import KafkaBroker
from faststream.kafka.publisher.state import RealProducer
from opentelemetry import propagate

from talent_shared.envelope import EventRecord, event_headers
from talent_shared.record_batches import record_batches_of


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
