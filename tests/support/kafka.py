"""Raw aiokafka clients for tests: publish exactly the bytes a scenario needs, read topics back."""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TypeAlias

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from devsupport.infra import kafka_bootstrap
from devsupport.kafka import partitions_of


@asynccontextmanager
async def raw_producer() -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap(), acks="all")
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


@asynccontextmanager
async def topic_reader(
    topic: str, *, from_beginning: bool = False
) -> AsyncIterator[AIOKafkaConsumer]:
    """A consumer at the current end of ``topic`` (it sees what comes next), or at its start.

    It takes every partition itself, without a consumer group, so no group coordinator (slow to
    come back after a broker restart) stands between the test and the topic.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap(), enable_auto_commit=False)
    await consumer.start()
    try:
        async with asyncio.timeout(30):
            partitions = [TopicPartition(topic, p) for p in await partitions_of(topic)]
            consumer.assign(partitions)
            if from_beginning:
                await consumer.seek_to_beginning(*partitions)
            else:
                await consumer.seek_to_end(*partitions)
            for partition in partitions:
                await consumer.position(partition)  # fix the position before the test acts
        yield consumer
    finally:
        await consumer.stop()


Record: TypeAlias = "ConsumerRecord[bytes, bytes]"


async def read_until(
    consumer: AIOKafkaConsumer, predicate: Callable[[Record], bool], *, timeout: float = 15.0
) -> list[Record]:
    """Read records until one matches ``predicate``; returns all records read."""
    seen: list[Record] = []
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        batches = await consumer.getmany(timeout_ms=200)
        for records in batches.values():
            seen.extend(records)
            if any(predicate(record) for record in records):
                return seen
    raise AssertionError(f"no matching record within {timeout}s; read {len(seen)}")
