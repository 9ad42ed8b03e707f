"""Operational gauges refreshed in the background: consumer lag and the outbox's oldest pending row.

Both need a round trip (Kafka, PostgreSQL), which a Prometheus scrape should not wait for, so a
background loop refreshes them every ``REFRESH_SECONDS``. Lag is read from the group's committed
offsets (not from this replica's consumers), so a stuck or absent consumer still shows its lag;
every replica reports the same numbers, and the alert rules take the max.
"""

from collections.abc import Mapping, Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from faststream.kafka import KafkaBroker
from prometheus_client import Gauge

from talent_shared.background import BackgroundLoop
from talent_shared.db import Pool

REFRESH_SECONDS = 10.0

CONSUMER_LAG = Gauge(
    "talent_kafka_consumer_lag",
    "Messages a consumer group has yet to commit: end offset minus committed offset",
    ["group", "topic", "partition"],
)
OUTBOX_OLDEST_PENDING_AGE = Gauge(
    "talent_outbox_oldest_pending_age_seconds",
    "Age of the oldest outbox row not yet published to Kafka (0 when none is pending)",
)


def consumer_groups(broker: KafkaBroker) -> dict[str, list[str]]:
    """The broker's consumer groups and the topics each reads."""
    groups: dict[str, list[str]] = {}
    for subscriber in broker.subscribers:
        group = getattr(subscriber, "group_id", None)
        if group:
            groups.setdefault(group, []).extend(t.name for t in subscriber.topics)  # type: ignore[attr-defined]
    return groups


async def consumer_lag(
    admin: AIOKafkaAdminClient,
    offsets_reader: AIOKafkaConsumer,
    group: str,
    topics: Sequence[str],
) -> dict[TopicPartition, int]:
    """Lag per partition of ``topics`` that ``group`` has committed an offset on."""
    committed = {
        partition: meta.offset
        for partition, meta in (await admin.list_consumer_group_offsets(group)).items()
        if partition.topic in topics and meta.offset >= 0
    }
    if not committed:
        return {}
    ends = await offsets_reader.end_offsets(list(committed))
    return {partition: max(0, ends[partition] - offset) for partition, offset in committed.items()}


async def oldest_pending_outbox_age(pool: Pool) -> float:
    age = await pool.fetchval(
        """SELECT EXTRACT(EPOCH FROM now() - min(created_at))::float8
           FROM outbox WHERE published_at IS NULL"""
    )
    return max(0.0, float(age or 0.0))


class OperationsMonitor:
    """Keeps the gauges fresh while the service runs."""

    def __init__(
        self,
        *,
        broker: KafkaBroker,
        bootstrap_servers: Sequence[str],
        pool: "Pool | None",
        groups: Mapping[str, Sequence[str]],
        interval_seconds: float = REFRESH_SECONDS,
    ) -> None:
        self._broker = broker
        self._pool = pool
        self._groups = groups
        self._bootstrap_servers = list(bootstrap_servers)
        self._offsets_reader: AIOKafkaConsumer | None = None
        self._loop = BackgroundLoop(
            "operations-monitor", self._cycle, interval_seconds=interval_seconds
        )

    async def start(self) -> None:
        if self._groups:
            # Groupless: it only asks for end offsets, never joins a group or commits.
            self._offsets_reader = AIOKafkaConsumer(
                bootstrap_servers=self._bootstrap_servers, enable_auto_commit=False
            )
            await self._offsets_reader.start()
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
        if self._offsets_reader is not None:
            await self._offsets_reader.stop()

    async def _cycle(self) -> bool:
        await self.refresh()
        return False

    async def refresh(self) -> None:
        if self._pool is not None:
            OUTBOX_OLDEST_PENDING_AGE.set(await oldest_pending_outbox_age(self._pool))
        if self._offsets_reader is None:
            return
        admin = self._broker.config.admin_client
        for group, topics in self._groups.items():
            lag = await consumer_lag(admin, self._offsets_reader, group, topics)
            for partition, behind in lag.items():
                CONSUMER_LAG.labels(group, partition.topic, str(partition.partition)).set(behind)
