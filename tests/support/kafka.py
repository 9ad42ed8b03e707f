"""Raw aiokafka clients for tests: publish exactly the bytes a scenario needs, read topics back."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord

from tests.support.infra import KAFKA_BOOTSTRAP


@asynccontextmanager
async def raw_producer() -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA_BOOTSTRAP, acks="all")
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


@asynccontextmanager
async def topic_reader(topic: str) -> AsyncIterator[AIOKafkaConsumer]:
    """A consumer positioned at the current end of ``topic``: it sees only what comes next."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=KAFKA_BOOTSTRAP,
        group_id=f"test-reader-{uuid.uuid4().hex}",
        auto_offset_reset="latest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        # Wait for the partition assignment, so "latest" is fixed before the test acts.
        while not consumer.assignment():
            await asyncio.sleep(0.05)
        for partition in consumer.assignment():
            await consumer.position(partition)
        yield consumer
    finally:
        await consumer.stop()


async def read_until(
    consumer: AIOKafkaConsumer,
    predicate,
    *,
    timeout: float = 15.0,  # type: ignore[no-untyped-def]
) -> list[ConsumerRecord]:  # type: ignore[type-arg]
    """Read records until one matches ``predicate``; returns all records read."""
    seen: list[ConsumerRecord] = []  # type: ignore[type-arg]
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        batches = await consumer.getmany(timeout_ms=200)
        for records in batches.values():
            seen.extend(records)
            if any(predicate(record) for record in records):
                return seen
    raise AssertionError(f"no matching record within {timeout}s; read {len(seen)}")
