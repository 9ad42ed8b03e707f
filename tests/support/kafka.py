"""Raw aiokafka clients for tests: publish exactly the bytes a scenario needs, read topics back."""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TypeAlias

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from tests.support.infra import kafka_bootstrap


@asynccontextmanager
async def raw_producer() -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap(), acks="all")
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


async def partitions_of(topic: str, timeout: float = 15.0) -> list[int]:
    """The topic's partitions, once every one has a leader (a topic just created on a fresh
    broker can be listed before all of its partitions are)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap())
    await admin.start()
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            [description] = await admin.describe_topics([topic])
            partitions = description["partitions"]
            ready = description["error_code"] == 0 and partitions
            if ready and all(p["leader"] >= 0 for p in partitions):
                await asyncio.sleep(0.2)
                [again] = await admin.describe_topics([topic])
                if len(again["partitions"]) == len(partitions):
                    return sorted(p["partition"] for p in partitions)
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"topic {topic} has no complete metadata: {description}")
            await asyncio.sleep(0.2)
    finally:
        await admin.close()


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
