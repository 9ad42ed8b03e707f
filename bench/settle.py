"""Between measures: wait until the consumers have worked through what a measure produced, then
put the notifications database back as the reference data set left it.

A measure's matches open alert windows that close 300 s later (ALERT_WINDOW_SECONDS, as
shipped); the alerts would then be recorded and sent in the middle of a later measure. The bench
deletes the waiting matches, windows and digest queue a measure left (they are the bench's own:
the reference data set has none), so each measure starts from the same state.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from bench.common import until
from bench.stack import Stack
from devsupport.infra import kafka_bootstrap
from talent_shared.events import CANDIDATES_TOPIC, POSTINGS_TOPIC

# The notifications service's consumer groups, and their topics.
NOTIFICATIONS_CONSUMERS = {"candidates": CANDIDATES_TOPIC, "jobs": POSTINGS_TOPIC}


@dataclass
class ConsumerProgress:
    """Whether consumer groups have consumed their topics up to the end. A partition that got
    nothing new since :meth:`mark` counts as consumed: with "latest", a group commits nothing on
    a partition it never received a record from."""

    admin: AIOKafkaAdminClient
    reader: AIOKafkaConsumer
    groups: dict[str, str]  # group -> topic
    marked: dict[TopicPartition, int] = field(default_factory=dict)

    async def _ends(self) -> dict[TopicPartition, int]:
        partitions = [
            TopicPartition(topic, p)
            for topic in set(self.groups.values())
            for p in self.reader.partitions_for_topic(topic) or ()
        ]
        ends: dict[TopicPartition, int] = await self.reader.end_offsets(partitions)
        return ends

    async def mark(self) -> None:
        await self.reader.topics()  # metadata of every topic
        self.marked = await self._ends()

    async def consumed(self) -> bool:
        ends = await self._ends()
        for group, topic in self.groups.items():
            committed = await self.admin.list_consumer_group_offsets(group)
            for partition, end in ends.items():
                if partition.topic != topic or end == self.marked.get(partition, 0):
                    continue
                done = committed.get(partition)
                if done is None or done.offset < end:
                    return False
        return True

    async def wait(self, timeout: float) -> float:
        """Seconds until every group has consumed its topic; raises past ``timeout``."""
        return await until(self.consumed, every=0.25, timeout=timeout, what="the consumers")


@asynccontextmanager
async def notifications_progress(stack: Stack) -> AsyncIterator[ConsumerProgress]:
    """The notifications consumers' progress, marked now."""
    groups = {stack.group("notifications", c): t for c, t in NOTIFICATIONS_CONSUMERS.items()}
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap())
    reader = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap(), enable_auto_commit=False)
    await admin.start()
    await reader.start()
    try:
        progress = ConsumerProgress(admin, reader, groups)
        await progress.mark()
        yield progress
    finally:
        await reader.stop()
        await admin.close()


async def settle(stack: Stack, progress: ConsumerProgress, *, timeout: float = 900) -> None:
    """Until the notifications consumers are done and no email is due, then the reference
    state again (see the module docstring)."""
    await progress.wait(timeout)
    notifications = await asyncpg.connect(stack.databases.notifications)

    async def nothing_due() -> bool:
        return not await notifications.fetchval(
            "SELECT EXISTS (SELECT FROM deliveries WHERE status = 'pending' "
            "AND next_attempt_at <= clock_timestamp())"
        )

    try:
        await until(nothing_due, every=0.25, timeout=timeout, what="the emails due")
        await notifications.execute("TRUNCATE alert_windows, alerted_jobs, digest_queue")
    finally:
        await notifications.close()
