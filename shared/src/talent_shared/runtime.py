"""Assembles a service: database pool, migrations, Kafka broker, outbox relay and the FastAPI app.

A service provides its settings, routers, migrations package and one function that registers all
of its Kafka subscribers; everything else (start order, readiness, graceful stop) lives here once.
"""

import asyncio
import gc
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, ClassVar, Generic, TypeVar

import uvicorn
from fastapi import APIRouter, FastAPI, Request
from fastapi.routing import APIRoute
from faststream.kafka import KafkaBroker
from uvicorn.importer import import_from_string
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from talent_shared.asyncapi import asyncapi_router, declare_dead_letter_publishers
from talent_shared.db import (
    Migration,
    Pool,
    apply_migrations,
    create_pool,
    database_is_reachable,
    migrations_in,
    shared_migrations,
)
from talent_shared.http import (
    PublicRoute,
    document_common_responses,
    install_common_http,
    install_cors,
)
from talent_shared.kafka import create_broker, ensure_topics
from talent_shared.logging import configure_logging, get_logger
from talent_shared.monitoring import OperationsMonitor, consumer_groups
from talent_shared.outbox import OutboxRelay
from talent_shared.settings import ServiceSettings
from talent_shared.tracing import start_tracing

log = get_logger(__name__)

T = TypeVar("T")
R = TypeVar("R", bound="Runtime[Any]")
S = TypeVar("S", bound=ServiceSettings)
STARTUP_TIMEOUT_SECONDS = 60.0


class Runtime(Generic[S]):
    """What a running service holds. Each service subclasses it once, naming its migrations,
    whether it relays an outbox, and registering all of its Kafka subscribers in one place."""

    migrations_package: ClassVar[str]
    with_outbox: ClassVar[bool] = False

    def __init__(self, settings: S) -> None:
        self.settings: S = settings
        # Tracing (OTEL_EXPORTER_OTLP_ENDPOINT) is set up here, before anything it instruments.
        self.tracer_provider = start_tracing(settings)
        self.broker: KafkaBroker = create_broker(settings, tracer_provider=self.tracer_provider)
        self._pool: Pool | None = None
        self._relay: OutboxRelay | None = None
        self.register_subscribers()
        declare_dead_letter_publishers(self.broker)

    def register_subscribers(self) -> None:
        """Register every subscriber of the service on ``self.broker`` (before it starts)."""

    async def on_started(self, stack: AsyncExitStack) -> None:
        """Called once the database, the broker and the relay are up, before traffic comes;
        push whatever must stop at shutdown onto ``stack`` (it stops before the broker)."""

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

    async def start(self, stack: AsyncExitStack) -> None:
        """Start in dependency order; ``stack`` stops them in reverse (relay, broker, pool)."""
        settings = self.settings
        if self.tracer_provider is not None:
            stack.callback(self.tracer_provider.shutdown)  # last: exports the final spans
        self._pool = await _retry_until(
            "database",
            lambda: create_pool(settings.database_url, max_size=settings.database_pool_max_size),
            STARTUP_TIMEOUT_SECONDS,
        )
        stack.push_async_callback(self._pool.close)
        if settings.migrate_on_start:
            await apply_migrations(self._pool, all_migrations(self.migrations_package))

        await _retry_until("kafka", self._connect_broker, STARTUP_TIMEOUT_SECONDS)
        stack.push_async_callback(self.broker.stop)
        await ensure_topics(
            self.broker,
            partitions=settings.kafka_topic_partitions,
            replication_factor=settings.kafka_replication_factor,
        )
        await self.broker.start()

        if self.with_outbox:
            self._relay = OutboxRelay(self._pool, self.broker)
            self._relay.start()
            stack.push_async_callback(self._relay.stop)
        monitor = OperationsMonitor(
            broker=self.broker,
            bootstrap_servers=settings.kafka_bootstrap_servers,
            pool=self._pool if self.with_outbox else None,
            groups=consumer_groups(self.broker),
        )
        await monitor.start()
        stack.push_async_callback(monitor.stop)
        await self.on_started(stack)

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
        return await apply_migrations(pool, all_migrations(migrations_package))
    finally:
        await pool.close()


def all_migrations(migrations_package: str) -> list[Migration]:
    return shared_migrations() + migrations_in(migrations_package, namespace="service")


def create_service_app(
    runtime: "Runtime[Any]",
    *,
    description: str,
    routers: Sequence[APIRouter],
    public_routes: Sequence[PublicRoute] = (),
    body_limits: Mapping[Callable[..., Any], int] | None = None,
) -> FastAPI:
    """The service's app. ``public_routes`` may be called from CORS_ALLOWED_ORIGINS (no other
    route ever is); ``body_limits`` gives some endpoints a body limit other than 64 KiB."""
    settings = runtime.settings
    body_limits = body_limits or {}

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            await runtime.start(stack)
            # What startup built (modules, the app, clients: ~100k objects) lives as long as the
            # process: frozen, the collector's full passes no longer walk it. Before, they took
            # most of the projector's time (jobs: 297 full passes, 40 s in a 40,000-view run).
            gc.freeze()
            log.info("service started", port=settings.http_port)
            yield
            log.info("service stopping")

    app = FastAPI(
        title=f"Talent Network {settings.service_name} service",
        description=description,
        version="1.0.0",
        lifespan=lifespan,
        # Traces come from FastAPIInstrumentor (OTEL_* set) and metrics from Prometheus; left
        # on, FastAPI's own telemetry only looked for a provider on every request (5% of CPU).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.runtime = runtime
    larger_bodies = [
        (route.path_regex, body_limits[route.endpoint])
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute) and route.endpoint in body_limits
    ]
    install_common_http(
        app,
        service=settings.service_name,
        readiness={"database": runtime.database_ready, "kafka": runtime.kafka_ready},
        larger_bodies=larger_bodies,
    )
    for router in routers:
        document_common_responses(router, body_limits)
        app.include_router(router)
    app.include_router(asyncapi_router())
    install_cors(
        app, allowed_origins=settings.cors_allowed_origins, routers=routers, public=public_routes
    )
    # Outermost: every layer sees the client the trusted gateway names (signup rate-limits it).
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxies))
    if runtime.tracer_provider is not None:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(
            app, tracer_provider=runtime.tracer_provider, excluded_urls="healthz,readyz,metrics"
        )
    return app


def runtime_of(runtime_class: type[R]) -> Callable[[Request], Awaitable[R]]:
    """A FastAPI dependency giving routes the app's runtime, typed as the service's subclass."""

    async def dependency(request: Request) -> R:  # async: no thread-pool hop per request
        runtime = request.app.state.runtime
        if not isinstance(runtime, runtime_class):
            raise TypeError(f"app runtime is not a {runtime_class.__name__}")
        return runtime

    return dependency


# With HTTP_WORKERS > 1 each worker process builds its own settings and app: the parent names
# them here (import strings), and the workers inherit its environment.
WORKER_SETTINGS_VARIABLE = "TALENT_WORKER_SETTINGS"
WORKER_APP_VARIABLE = "TALENT_WORKER_APP"


def serve(app: FastAPI | str, settings: ServiceSettings) -> None:
    """Run under uvicorn: ``app`` itself in this process, or, given the import string of an
    app factory, HTTP_WORKERS processes sharing the port, each calling the factory (so each is
    a whole service: its own pool, broker, consumers and relay). A worker takes connections
    only once its lifespan has started it, so traffic reaches ready workers only.

    SIGTERM drains HTTP requests, then the lifespan stops consumers; with several workers the
    parent passes SIGTERM on to each and exits once all have stopped."""
    uvicorn.run(
        app,
        factory=isinstance(app, str),
        workers=settings.http_workers if isinstance(app, str) else None,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        proxy_headers=False,  # the app's own middleware trusts TRUSTED_PROXIES, nobody else
        timeout_graceful_shutdown=int(settings.graceful_timeout_seconds),
        access_log=False,
    )


def worker_app() -> FastAPI:
    """The app of one worker process (HTTP_WORKERS > 1), built as :func:`run_service` builds
    it in a single process: settings from the environment, logging, then the service."""
    settings = import_from_string(os.environ[WORKER_SETTINGS_VARIABLE])()
    _configure_logging(settings)
    build_app: Callable[[ServiceSettings], FastAPI] = import_from_string(
        os.environ[WORKER_APP_VARIABLE]
    )
    return build_app(settings)


def _configure_logging(settings: ServiceSettings) -> None:
    configure_logging(
        service=settings.service_name,
        level=settings.log_level,
        trace_ids=bool(settings.otel_exporter_otlp_endpoint),
    )


def _import_string(thing: Callable[..., Any]) -> str:
    return f"{thing.__module__}:{thing.__qualname__}"


def run_service(settings: S, build_app: Callable[[S], FastAPI], *, migrations: str) -> None:
    """Entry point of ``python -m talent_<service> [serve|migrate]``."""
    _configure_logging(settings)
    command = sys.argv[1] if len(sys.argv) > 1 else "serve"
    if command == "migrate":
        applied = asyncio.run(migrate(settings, migrations))
        log.info("migrations done", applied=applied)
    elif command == "serve" and settings.http_workers > 1:
        os.environ[WORKER_SETTINGS_VARIABLE] = _import_string(type(settings))
        os.environ[WORKER_APP_VARIABLE] = _import_string(build_app)
        serve(_import_string(worker_app), settings)
    elif command == "serve":
        serve(build_app(settings), settings)
    else:
        raise SystemExit(f"usage: python -m talent_{settings.service_name} [serve|migrate]")
