"""The infrastructure's Kafka, as the tests and benchmarks read it."""

import asyncio

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
