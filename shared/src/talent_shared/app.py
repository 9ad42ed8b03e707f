"""A service's FastAPI app around its :class:`~talent_shared.runtime.Runtime`, and how it is
served: one process, or HTTP_WORKERS processes sharing the port."""

import asyncio
import gc
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import uvicorn
from fastapi import APIRouter, FastAPI, Request
from fastapi.routing import APIRoute
from uvicorn.importer import import_from_string
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from talent_shared.asyncapi import asyncapi_router
from talent_shared.http.common import ErrorStatuses, document_common_responses, install_common_http
from talent_shared.http.cors import PublicRoute, install_cors
from talent_shared.logging import configure_logging, get_logger
from talent_shared.runtime import Runtime, migrate
from talent_shared.settings import ServiceSettings

log = get_logger(__name__)

R = TypeVar("R", bound="Runtime[Any]")
S = TypeVar("S", bound=ServiceSettings)


@dataclass(frozen=True)
class ServiceApi:
    """A service's HTTP API: its description and routers, and how the app treats some routes.
    ``public_routes`` may be called from CORS_ALLOWED_ORIGINS (no other route ever is);
    ``body_limits`` gives some endpoints a body limit other than 64 KiB; ``errors`` maps the
    service's domain errors to the HTTP status they answer."""

    description: str
    routers: Sequence[APIRouter]
    public_routes: Sequence[PublicRoute] = ()
    body_limits: Mapping[Callable[..., Any], int] = field(default_factory=dict)
    errors: ErrorStatuses = field(default_factory=dict)


def create_service_app(runtime: Runtime[Any], api: ServiceApi) -> FastAPI:
    """The service's app: ``api`` around ``runtime``, with what every service has."""
    settings = runtime.settings
    routers, body_limits = api.routers, api.body_limits

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
        description=api.description,
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
        errors=api.errors,
    )
    for router in routers:
        document_common_responses(router, body_limits)
        app.include_router(router)
    app.include_router(asyncapi_router())
    install_cors(
        app,
        allowed_origins=settings.cors_allowed_origins,
        routers=routers,
        public=api.public_routes,
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
