"""RecordBatches on the real broker: concurrent publishers share each partition's open batch,
and every record lands, in order per key, where ``producer.send`` would put it; a record's
future resolves only when Kafka acknowledged its batch, and fails when it did not."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError
from faststream.kafka import KafkaBroker

from devsupport.infra import kafka_bootstrap
from talent_shared.envelope import new_event
from talent_shared.events import VIEWS_TOPIC, JobViewed
from talent_shared.publishing import PublishFailedError, publish_events
from talent_shared.record_batches import RecordBatches
from tests.support.kafka import Record, read_until, topic_reader

pytestmark = pytest.mark.integration

PUBLISHERS = 8
KEYS = 12  # enough keys to land on every partition of the topic
RECORDS_PER_KEY = 20


@asynccontextmanager
async def idempotent_producer(**options: int) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap(), acks="all", enable_idempotence=True, **options
    )
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


async def records_of_keys(reader: AIOKafkaConsumer, keys: set[bytes], count: int) -> list[Record]:
    """Read until ``count`` records with one of ``keys`` came; returns those, in read order."""
    mine: list[Record] = []

    def all_came(record: Record) -> bool:
        if record.key in keys:
            mine.append(record)
        return len(mine) == count

    await read_until(reader, all_came)
    return mine


async def test_concurrent_publishers_records_land_in_key_order_on_the_producers_partition() -> None:
    run = uuid.uuid4().hex[:8]
    keys = [f"visitor-{run}-{n}".encode() for n in range(KEYS)]
    async with idempotent_producer() as producer, topic_reader(VIEWS_TOPIC) as reader:
        batches = RecordBatches(producer, timeout=10)
        await batches.ready(VIEWS_TOPIC)

        async def publisher(number: int) -> None:
            # Each publisher owns some keys and appends a few records of each per turn.
            owned = keys[number::PUBLISHERS]
            for sequence in range(RECORDS_PER_KEY):
                acks = {
                    batches.append(VIEWS_TOPIC, key, str(sequence).encode(), []) for key in owned
                }
                if sequence % 5 == 4:
                    await asyncio.wait(acks)
                    assert all(ack.exception() is None for ack in acks)
                await asyncio.sleep(0)

        await asyncio.gather(*(publisher(n) for n in range(PUBLISHERS)))
        records = await records_of_keys(reader, set(keys), KEYS * RECORDS_PER_KEY)

    by_key: dict[bytes, list[Record]] = {}
    for record in records:
        by_key.setdefault(record.key, []).append(record)
    for key, landed in by_key.items():
        assert [r.value for r in landed] == [str(n).encode() for n in range(RECORDS_PER_KEY)]
        assert {r.partition for r in landed} == {batches.partition_for(VIEWS_TOPIC, key)}
        assert batches.partition_for(VIEWS_TOPIC, key) == producer._partition(
            VIEWS_TOPIC, None, key, None, key, None
        )
    assert len({r.partition for r in records}) > 1  # not all on one


async def test_a_full_batch_rolls_to_a_new_one_sent_after_it() -> None:
    run = uuid.uuid4().hex[:8]
    key = f"visitor-{run}".encode()
    async with (
        idempotent_producer(max_batch_size=1024) as producer,
        topic_reader(VIEWS_TOPIC) as reader,
    ):
        batches = RecordBatches(producer, timeout=10)
        await batches.ready(VIEWS_TOPIC)
        acks = [batches.append(VIEWS_TOPIC, key, b"%04d" % n + b"x" * 200, []) for n in range(30)]
        await asyncio.wait(set(acks))
        records = await records_of_keys(reader, {key}, 30)

    assert len(set(acks)) > 1  # 30 records of 200 bytes do not fit in one 1 KiB batch
    assert all(ack.exception() is None for ack in acks)
    assert [r.value[:4] for r in records] == [b"%04d" % n for n in range(30)]


async def test_a_batch_the_broker_rejects_fails_the_futures_of_its_records() -> None:
    run = uuid.uuid4().hex[:8]
    # Larger than the broker accepts in one batch (message.max.bytes, 1 MiB by default).
    async with idempotent_producer(
        max_batch_size=4 * 1024 * 1024, max_request_size=8 * 1024 * 1024
    ) as producer:
        batches = RecordBatches(producer, timeout=10)
        await batches.ready(VIEWS_TOPIC)
        key = f"visitor-{run}".encode()
        acks = {batches.append(VIEWS_TOPIC, key, uuid.uuid4().bytes * 4096, []) for _ in range(32)}
        await asyncio.wait(acks)

    assert len(acks) == 1
    assert all(isinstance(ack.exception(), KafkaError) for ack in acks)


async def test_a_batch_not_acknowledged_in_time_fails_every_pending_future() -> None:
    run = uuid.uuid4().hex[:8]
    keys = [f"visitor-{run}-{n}".encode() for n in range(KEYS)]
    async with idempotent_producer() as producer:
        batches = RecordBatches(producer, timeout=1e-6)
        await batches.ready(VIEWS_TOPIC)
        in_flight = {batches.append(VIEWS_TOPIC, key, b"late", []) for key in keys}
        await asyncio.sleep(0)  # the partitions' batches are handed to the producer
        waiting = {batches.append(VIEWS_TOPIC, key, b"later", []) for key in keys}
        await asyncio.wait(in_flight | waiting)

    assert in_flight.isdisjoint(waiting)
    assert all(isinstance(ack.exception(), TimeoutError) for ack in in_flight | waiting)


async def test_publish_events_not_acknowledged_in_time_fail_as_unpublished(
    kafka_broker: KafkaBroker,
) -> None:
    viewed = JobViewed(visitor_id="impatient", job_id=uuid.uuid4(), viewed_at=datetime.now(UTC))
    with pytest.raises(PublishFailedError):
        await publish_events(
            kafka_broker, [new_event(viewed, producer="test").record()], timeout=1e-6
        )
