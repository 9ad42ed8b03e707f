"""What a running service holds, and its start and stop order: database pool, migrations, Kafka
broker, outbox relay, and the service's own background parts.

A service subclasses :class:`Runtime` once. Its constructor calls ``super().__init__`` first, then
builds its own parts and registers its Kafka subscribers (``talent_shared.kafka.subscribe``) on
``self.broker``, handing each handler what it uses (``self.database``, ``self.relay``, ...), never
the runtime itself. Everything else (start order, readiness, graceful stop) lives here once.
"""

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from typing import ClassVar, Generic, Protocol, TypeVar

from faststream.kafka import KafkaBroker

from talent_shared.asyncapi import declare_dead_letter_publishers, declare_publishers
from talent_shared.db import (
    Database,
    Migration,
    Pool,
    apply_migrations,
    create_pool,
    database_is_reachable,
    migrations_in,
    shared_migrations,
)
from talent_shared.kafka import create_broker, ensure_topics
from talent_shared.logging import get_logger
from talent_shared.monitoring import OperationsMonitor, consumer_groups
from talent_shared.outbox import OutboxRelay
from talent_shared.settings import ServiceSettings
from talent_shared.tracing import start_tracing

log = get_logger(__name__)

T = TypeVar("T")
S = TypeVar("S", bound=ServiceSettings)
STARTUP_TIMEOUT_SECONDS = 60.0


class BackgroundPart(Protocol):
    """Work that runs beside the requests (a delivery worker, a scheduler)."""

    def start(self) -> None: ...

    async def stop(self) -> None: ...


class Runtime(Generic[S]):
    """The running service: see the module docstring."""

    migrations_package: ClassVar[str]
    with_outbox: ClassVar[bool] = False
    # The topics the service writes, and how (for the AsyncAPI document; nothing is sent
    # through these publishers: events go out through the outbox relay or a producer).
    publishes: ClassVar[Mapping[str, str]] = {}

    def __init__(self, settings: S) -> None:
        self.settings: S = settings
        # Tracing (OTEL_EXPORTER_OTLP_ENDPOINT) is set up here, before anything it instruments.
        self.tracer_provider = start_tracing(settings)
        self.broker: KafkaBroker = create_broker(settings, tracer_provider=self.tracer_provider)
        self.database = Database(settings.database_url, max_size=settings.database_pool_max_size)
        self._relay = OutboxRelay(self.database, self.broker) if self.with_outbox else None
        self._warm_ups: list[Callable[[], Awaitable[None]]] = []
        self._parts: list[BackgroundPart] = []
        for topic, how in self.publishes.items():
            declare_publishers(self.broker, [topic], how=how)

    @property
    def pool(self) -> Pool:
        return self.database.pool

    @property
    def relay(self) -> OutboxRelay:
        if self._relay is None:
            raise RuntimeError("this service has no outbox relay")
        return self._relay

    def warm_up(self, step: Callable[[], Awaitable[None]]) -> None:
        """Run ``step`` once the database and the broker are up, before traffic comes."""
        self._warm_ups.append(step)

    def run_alongside(self, part: BackgroundPart) -> None:
        """Start ``part`` with the service (after the warm-up steps); it stops first."""
        self._parts.append(part)

    async def start(self, stack: AsyncExitStack) -> None:
        """Start in dependency order; ``stack`` stops them in reverse (parts, relay, broker,
        pool)."""
        settings = self.settings
        if self.tracer_provider is not None:
            stack.callback(self.tracer_provider.shutdown)  # last: exports the final spans
        pool = await _retry_until("database", self.database.open, STARTUP_TIMEOUT_SECONDS)
        stack.push_async_callback(self.database.close)
        if settings.migrate_on_start:
            await apply_migrations(pool, all_migrations(self.migrations_package))

        await _retry_until("kafka", self._connect_broker, STARTUP_TIMEOUT_SECONDS)
        stack.push_async_callback(self.broker.stop)
        await ensure_topics(
            self.broker,
            partitions=settings.kafka_topic_partitions,
            replication_factor=settings.kafka_replication_factor,
        )
        declare_dead_letter_publishers(self.broker)
        await self.broker.start()

        parts: list[BackgroundPart] = [self._relay] if self._relay is not None else []
        monitor = OperationsMonitor(
            broker=self.broker,
            bootstrap_servers=settings.kafka_bootstrap_servers,
            pool=pool if self.with_outbox else None,
            groups=consumer_groups(self.broker),
        )
        await monitor.start()
        stack.push_async_callback(monitor.stop)
        for step in self._warm_ups:
            await step()
        for part in [*parts, *self._parts]:
            part.start()
            stack.push_async_callback(part.stop)

    async def _connect_broker(self) -> None:
        try:
            await self.broker.connect()
        except Exception:
            await self.broker.stop()  # release the half-started producer before the next try
            raise

    async def wait_until_consuming(self, timeout: float = 30.0) -> None:
        """Wait until every subscriber holds partitions with a fetch position. Tests use it with
        KAFKA_AUTO_OFFSET_RESET=latest, so a fresh group skips the topic's history safely."""
        async with asyncio.timeout(timeout):
            for subscriber in self.broker.subscribers:
                consumer = getattr(subscriber, "consumer", None)
                while consumer is None or not consumer.assignment():
                    await asyncio.sleep(0.05)
                    consumer = getattr(subscriber, "consumer", None)
                for partition in consumer.assignment():
                    await consumer.position(partition)

    async def database_ready(self) -> bool:
        return self.database.is_open and await database_is_reachable(self.database.pool)

    async def kafka_ready(self) -> bool:
        return await self.broker.ping(timeout=2.0)


async def _retry_until(what: str, attempt: Callable[[], Awaitable[T]], timeout: float) -> T:
    """Dependencies may start after us (compose, Kubernetes): wait for them, within a bound."""
    deadline = asyncio.get_running_loop().time() + timeout
    delay = 0.25
    while True:
        try:
            return await attempt()
        except Exception as error:
            if asyncio.get_running_loop().time() + delay > deadline:
                raise RuntimeError(
                    f"{what} not reachable after {timeout:.0f}s: {error!r}"
                ) from error
            log.warning("waiting for dependency", dependency=what, error=repr(error))
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


async def migrate(settings: ServiceSettings, migrations_package: str) -> list[str]:
    """The one-shot migration step (also run on start when MIGRATE_ON_START is true)."""
    pool = await _retry_until(
        "database", lambda: create_pool(settings.database_url, max_size=1), STARTUP_TIMEOUT_SECONDS
    )
    try:
        return await apply_migrations(pool, all_migrations(migrations_package))
    finally:
        await pool.close()


def all_migrations(migrations_package: str) -> list[Migration]:
    return shared_migrations() + migrations_in(migrations_package, namespace="service")
