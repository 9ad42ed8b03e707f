"""HTTP pieces every service shares: probes, metrics, body limit, error shape and admin auth."""

import hmac
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated

import asyncpg
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response, status
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from talent_shared.errors import is_transient
from talent_shared.logging import get_logger

MAX_BODY_BYTES = 64 * 1024
FASTAPI_BODY_PARSE_ERROR = "There was an error parsing the body"

log = get_logger(__name__)

HTTP_REQUESTS = Counter(
    "talent_http_requests_total", "HTTP requests", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "talent_http_request_duration_seconds", "HTTP request latency", ["service", "method", "route"]
)

ReadinessCheck = Callable[[], Awaitable[bool]]


class BodyTooLargeError(Exception):
    pass


class BodySizeLimitMiddleware:
    """Answer 413 for bodies over ``max_bytes``, declared or streamed, before any handler runs."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(send)
            return
        received = 0
        too_large = rejected = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    too_large = True
                    raise BodyTooLargeError
            return message

        async def guarded_send(message: Message) -> None:
            # The framework may turn the aborted read into its own 400; answer 413 instead.
            nonlocal rejected
            if not too_large:
                await send(message)
            elif message["type"] == "http.response.start" and not rejected:
                rejected = True
                await self._reject(send)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except BodyTooLargeError:
            if not rejected:
                await self._reject(send)

    async def _reject(self, send: Send) -> None:
        response = JSONResponse(
            {"detail": f"request body is larger than {self.max_bytes} bytes"},
            status_code=status.HTTP_413_CONTENT_TOO_LARGE,
        )
        await response({"type": "http"}, _no_receive, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


class MetricsMiddleware:
    """Count requests and time them by route template (not raw path: bounded label values)."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_code = 500

        async def recording_send(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            HTTP_LATENCY.labels(self.service, method, route).observe(time.perf_counter() - started)
            HTTP_REQUESTS.labels(self.service, method, route, str(status_code)).inc()


def install_common_http(
    app: FastAPI, *, service: str, readiness: Mapping[str, ReadinessCheck]
) -> None:
    """Probes, metrics, the body limit and a JSON 500 that never leaks internals."""
    app.add_middleware(BodySizeLimitMiddleware)
    app.add_middleware(MetricsMiddleware, service=service)
    app.include_router(_probe_router(readiness))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, error: RequestValidationError) -> JSONResponse:
        # Location, message and type only: echoing the input could fail to render (a lone
        # surrogate, NaN) and would copy personal data into responses.
        detail = [{k: e[k] for k in ("loc", "msg", "type") if k in e} for e in error.errors()]
        return JSONResponse({"detail": jsonable_encoder(detail)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        if error.status_code == 400 and error.detail == FASTAPI_BODY_PARSE_ERROR:
            # FastAPI's answer to a body that is not UTF-8 or too deeply nested: the contract
            # says an invalid body is a 422 naming the field, here the body itself.
            detail = [
                {"loc": ["body"], "msg": "the body is not valid JSON", "type": "json_invalid"}
            ]
            return JSONResponse({"detail": detail}, status_code=422)
        return await http_exception_handler(request, error)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, error: Exception) -> JSONResponse:
        if isinstance(error, asyncpg.DataError):
            # A value the database refuses (out of range, not valid text) that got past
            # validation: still the caller's input, so a 4xx.
            return JSONResponse({"detail": "a value is out of range or not valid text"}, 422)
        if is_transient(error):
            # The database (or Kafka) is briefly unreachable: the caller should retry.
            log.warning(
                "dependency unavailable",
                method=request.method,
                path=request.url.path,
                error_type=type(error).__name__,
            )
            return JSONResponse(
                {"detail": "temporarily unavailable, retry shortly"},
                status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
                headers={"Retry-After": "1"},
            )
        log.exception("unhandled error", method=request.method, path=request.url.path)
        return JSONResponse({"detail": "internal server error"}, status_code=500)


def _probe_router(readiness: Mapping[str, ReadinessCheck]) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="The database and Kafka are reachable",
        responses={503: {"description": "a dependency is unreachable"}},
    )
    async def readyz(response: Response) -> dict[str, str]:
        results = {name: await check() for name, check in readiness.items()}
        if not all(results.values()):
            response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return {name: "ok" if ok else "unreachable" for name, ok in results.items()}

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


_bearer = HTTPBearer(auto_error=False, description="ADMIN_API_TOKEN")


def admin_token_matches(credentials: HTTPAuthorizationCredentials | None, expected: str) -> bool:
    """Compare in constant time, so response timing reveals nothing about the token."""
    presented = credentials.credentials if credentials is not None else ""
    return hmac.compare_digest(presented.encode(), expected.encode()) and bool(expected)


async def require_admin(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    expected = request.app.state.settings.admin_api_token.get_secret_value()
    if not admin_token_matches(credentials, expected):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="missing or invalid admin bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )


AdminOnly = Depends(require_admin)


def document_common_responses(router: APIRouter) -> None:
    """Add the answers every route can give to the OpenAPI schema: 413 for a body over the
    limit, 401 on admin routes. Call before the router is included."""
    for route in router.routes:
        if not isinstance(route, APIRoute):
            continue
        if route.body_field is not None:
            route.responses.setdefault(413, {"description": "request body over 64 KiB"})
        if any(dependency.dependency is require_admin for dependency in route.dependencies):
            route.responses.setdefault(401, {"description": "missing or invalid admin token"})


CORRELATION_HEADER = "X-Correlation-ID"


async def correlation_id(request: Request) -> str:  # async: no thread-pool hop per request
    """The caller's correlation id when it sent a sane one, else a new one; events carry it on."""
    presented = request.headers.get(CORRELATION_HEADER, "")
    if presented and len(presented) <= 128 and presented.isprintable():
        return presented
    return str(uuid.uuid4())


CorrelationId = Annotated[str, Depends(correlation_id)]
