"""Assembles a service: database pool, migrations, Kafka broker, outbox relay and the FastAPI app.

A service provides its settings, routers, migrations package and one function that registers all
of its Kafka subscribers; everything else (start order, readiness, graceful stop) lives here once.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Annotated, TypeVar

import uvicorn
from fastapi import APIRouter, Depends, FastAPI, Request
from faststream.kafka import KafkaBroker

from talent_shared.db import (
    Pool,
    apply_migrations,
    create_pool,
    database_is_reachable,
    migrations_in,
    shared_migrations,
)
from talent_shared.http import install_common_http
from talent_shared.kafka import create_broker, ensure_topics
from talent_shared.logging import configure_logging, get_logger
from talent_shared.outbox import OutboxRelay
from talent_shared.settings import ServiceSettings

log = get_logger(__name__)

T = TypeVar("T")
STARTUP_TIMEOUT_SECONDS = 60.0


class Runtime:
    """What a running service holds; routes reach it through the dependencies below."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.broker: KafkaBroker = create_broker(settings)
        self._pool: Pool | None = None
        self._relay: OutboxRelay | None = None

    @property
    def pool(self) -> Pool:
        if self._pool is None:
            raise RuntimeError("the database pool is opened when the service starts")
        return self._pool

    @property
    def relay(self) -> OutboxRelay:
        if self._relay is None:
            raise RuntimeError("this service has no outbox relay")
        return self._relay

    async def connect_broker(self) -> None:
        try:
            await self.broker.connect()
        except Exception:
            await self.broker.stop()  # release the half-started producer before the next try
            raise

    async def database_ready(self) -> bool:
        return self._pool is not None and await database_is_reachable(self._pool)

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
        return await apply_migrations(pool, _all_migrations(migrations_package))
    finally:
        await pool.close()


def _all_migrations(migrations_package: str) -> list:  # type: ignore[type-arg]
    return shared_migrations() + migrations_in(migrations_package, namespace="service")


def create_service_app(
    settings: ServiceSettings,
    *,
    description: str,
    migrations_package: str,
    routers: Sequence[APIRouter],
    register_subscribers: Callable[[Runtime], None],
    with_outbox: bool,
) -> FastAPI:
    runtime = Runtime(settings)
    register_subscribers(runtime)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            await _start(runtime, stack, migrations_package, with_outbox)
            log.info("service started", port=settings.http_port)
            yield
            log.info("service stopping")

    app = FastAPI(
        title=f"Talent Network {settings.service_name} service",
        description=description,
        version="1.0.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.runtime = runtime
    install_common_http(
        app,
        service=settings.service_name,
        readiness={"database": runtime.database_ready, "kafka": runtime.kafka_ready},
    )
    for router in routers:
        app.include_router(router)
    return app


async def _start(
    runtime: Runtime, stack: AsyncExitStack, migrations_package: str, with_outbox: bool
) -> None:
    """Start in dependency order; ``stack`` stops them in reverse (relay, broker, pool)."""
    settings = runtime.settings
    runtime._pool = await _retry_until(
        "database",
        lambda: create_pool(settings.database_url, max_size=settings.database_pool_max_size),
        STARTUP_TIMEOUT_SECONDS,
    )
    stack.push_async_callback(runtime.pool.close)
    if settings.migrate_on_start:
        await apply_migrations(runtime.pool, _all_migrations(migrations_package))

    await _retry_until("kafka", runtime.connect_broker, STARTUP_TIMEOUT_SECONDS)
    stack.push_async_callback(runtime.broker.stop)
    await ensure_topics(
        runtime.broker,
        partitions=settings.kafka_topic_partitions,
        replication_factor=settings.kafka_replication_factor,
    )
    await runtime.broker.start()

    if with_outbox:
        runtime._relay = OutboxRelay(runtime.pool, runtime.broker)
        runtime._relay.start()
        stack.push_async_callback(runtime._relay.stop)


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    """Run under uvicorn; SIGTERM drains HTTP requests, then the lifespan stops consumers."""
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        timeout_graceful_shutdown=int(settings.graceful_timeout_seconds),
        access_log=False,
    )


def run_service(
    settings: ServiceSettings, build_app: Callable[[ServiceSettings], FastAPI], migrations: str
) -> None:
    """Entry point of ``python -m talent_<service> [serve|migrate]``."""
    import sys

    configure_logging(service=settings.service_name, level=settings.log_level)
    command = sys.argv[1] if len(sys.argv) > 1 else "serve"
    if command == "migrate":
        applied = asyncio.run(migrate(settings, migrations))
        log.info("migrations done", applied=applied)
    elif command == "serve":
        serve(build_app(settings), settings)
    else:
        raise SystemExit(f"usage: python -m talent_{settings.service_name} [serve|migrate]")
