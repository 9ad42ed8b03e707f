"""Kafka for the tests, the benchmarks and the local runner: a new cluster's id, a topic's
partitions."""

import asyncio
import base64
import uuid
from collections.abc import Callable

from aiokafka.admin import AIOKafkaAdminClient

from devsupport.infra import kafka_bootstrap


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


def new_cluster_id(random_bytes: Callable[[], bytes] = lambda: uuid.uuid4().bytes) -> str:
    """A KRaft cluster id: URL-safe base64 of 16 random bytes, never starting with "-".

    Kafka's own ``Uuid.randomUuid`` draws again for a leading dash, because the storage
    tool's argument parser would take such an id for an option (1 draw in 64).
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(random_bytes()).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id
