"""HTTP pieces every service shares: probes, metrics, body limit, error shape, admin auth and
cross-origin access to the public routes."""

import hmac
import re
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import asyncpg
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response, status
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from pydantic import BaseModel, ValidationError
from starlette._utils import get_route_path
from starlette.datastructures import Headers, QueryParams
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from talent_shared.errors import is_transient
from talent_shared.logging import get_logger

MAX_BODY_BYTES = 64 * 1024
CORS_MAX_AGE_SECONDS = 600
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
    """Answer 413 for bodies over ``max_bytes``, declared or streamed, before any handler runs.

    ``larger_limits`` gives some paths (a route's ``path_regex``) a limit of their own."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int = MAX_BODY_BYTES,
        larger_limits: Sequence[tuple[re.Pattern[str], int]] = (),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger_limits = larger_limits

    def _limit_of(self, path: str) -> int:
        for pattern, limit in self.larger_limits:
            if pattern.match(path):
                return limit
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self._limit_of(scope["path"])
        declared, chunked = _declared_length(scope)
        if declared is not None and declared > max_bytes:
            await self._reject(send, max_bytes)
            return
        if declared is not None and not chunked:
            # The server reads no more than the declared length: nothing left to count.
            await self.app(scope, receive, send)
            return
        received = 0
        too_large = rejected = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
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
                await self._reject(send, max_bytes)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except BodyTooLargeError:
            if not rejected:
                await self._reject(send, max_bytes)

    @staticmethod
    async def _reject(send: Send, max_bytes: int) -> None:
        response = JSONResponse(
            {"detail": f"request body is larger than {max_bytes} bytes"},
            status_code=status.HTTP_413_CONTENT_TOO_LARGE,
        )
        await response({"type": "http"}, _no_receive, send)


def _declared_length(scope: Scope) -> tuple[int | None, bool]:
    """The Content-Length a request declares (None when absent or not a number), and whether
    it is sent chunked instead."""
    declared: int | None = None
    chunked = False
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit():
            declared = int(value)
        elif name == b"transfer-encoding":
            chunked = True
    return declared, chunked


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


class MetricsMiddleware:
    """Count requests and time them by route template (not raw path: bounded label values)."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service
        # Looking a labelled child up takes a lock and a few dicts: once per route is enough.
        self._latency: dict[tuple[str, str], Any] = {}
        self._requests: dict[tuple[str, str, int], Any] = {}

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
            self._record(scope, status_code, time.perf_counter() - started)

    def _record(self, scope: Scope, status_code: int, seconds: float) -> None:
        route = getattr(scope.get("route"), "path", "unmatched")
        method = scope["method"]
        latency = self._latency.get((method, route))
        if latency is None:
            latency = HTTP_LATENCY.labels(self.service, method, route)
            self._latency[method, route] = latency
        latency.observe(seconds)
        requests = self._requests.get((method, route, status_code))
        if requests is None:
            requests = HTTP_REQUESTS.labels(self.service, method, route, str(status_code))
            self._requests[method, route, status_code] = requests
        requests.inc()


@dataclass(frozen=True)
class PublicRoute:
    """A route that pages on the origins of CORS_ALLOWED_ORIGINS may call from a browser."""

    endpoint: Callable[..., Any]
    # Public only when the request carries this query parameter (a link token); without it the
    # route is an admin route, and admin routes never answer cross-origin requests.
    only_with_query: str | None = None


class PublicRoutesCorsMiddleware:
    """Starlette's CORSMiddleware, applied to the public routes only.

    CORSMiddleware covers every path of an app, and admin routes must never allow cross-origin
    use. So a request (a preflight: by the method it announces) goes through a CORSMiddleware
    only when it targets a public route; everything else reaches the app untouched (a preflight
    to an admin route gets the app's 405, without CORS headers). Public answers always carry
    `Vary: Origin`, also to a request without Origin, so no cache hands one origin's answer to
    another. One CORSMiddleware per public path: a preflight lists that path's public methods.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        allowed_origins: Sequence[str],
        public_routes: Sequence[tuple[APIRoute, str | None]],
    ) -> None:
        self.app = app
        self.public_routes = public_routes
        methods_by_path: dict[str, set[str]] = defaultdict(set)
        for route, _ in public_routes:
            methods_by_path[route.path] |= route.methods or set()
        self.cors_by_path = {
            path: CORSMiddleware(
                app,
                allow_origins=allowed_origins,
                allow_methods=sorted(methods),
                allow_headers=["Content-Type"],
                max_age=CORS_MAX_AGE_SECONDS,
            )
            for path, methods in methods_by_path.items()
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method == "OPTIONS":
            headers = Headers(scope=scope)
            if "origin" in headers and "access-control-request-method" in headers:
                method = headers["access-control-request-method"]
        cors = self._cors_for(scope, method)
        await (cors or self.app)(scope, receive, send)

    def _cors_for(self, scope: Scope, method: str) -> CORSMiddleware | None:
        # What Route.matches decides (path pattern, then method), without building its scope.
        path = get_route_path(scope)
        query: QueryParams | None = None
        for route, only_with_query in self.public_routes:
            if (route.methods and method not in route.methods) or not route.path_regex.match(path):
                continue
            if only_with_query is not None:
                query = query or QueryParams(scope.get("query_string", b""))
                if only_with_query not in query:
                    continue
            return self.cors_by_path[route.path]
        return None


class TextPlainJsonRoute(APIRoute):
    """A route that also reads its JSON body when sent as ``text/plain``: what
    ``navigator.sendBeacon`` sends for a string, the one type a page on another origin may POST
    without a preflight. FastAPI parses only JSON media types as JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handle_text_plain_as_json(request: Request) -> Response:
            if _media_type(request) == "text/plain":
                request = _declared_as_json(request, await _body_of(request))
            return await handle(request)

        return handle_text_plain_as_json


FastPath = Callable[[Request], Awaitable[Response | None]]


def fast_path_route(fast_path: FastPath, *, base: type[APIRoute] = APIRoute) -> type[APIRoute]:
    """A route class that hands each request to ``fast_path`` first, skipping FastAPI's body
    parsing, dependency resolution and response validation (about half of a small request's CPU
    time). ``fast_path`` answers a request it fully validated, and returns None, before doing
    anything, for any other: FastAPI's own handler then answers it (with any body already
    read), so every error response stays FastAPI's. The route's OpenAPI description is the
    declared endpoint's, unchanged."""

    class FastPathRoute(base):  # type: ignore[valid-type,misc]
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handle: Callable[[Request], Awaitable[Response]] = super().get_route_handler()

            async def handle_fast_first(request: Request) -> Response:
                response = await fast_path(request)
                return response if response is not None else await handle(request)

            return handle_fast_first

    return FastPathRoute


JSON = frozenset({"application/json"})
Model = TypeVar("Model", bound=BaseModel)


async def valid_body(
    request: Request, model: type[Model], media_types: frozenset[str] = JSON
) -> Model | None:
    """For a fast path: the body as ``model`` when it is sent as one of ``media_types`` and is
    valid, else None (FastAPI's handler then answers, with its own errors)."""
    if _media_type(request) not in media_types:
        return None
    try:
        return model.model_validate_json(await _body_of(request))
    except ValidationError:
        return None


def model_response(body: BaseModel, status_code: int) -> Response:
    """What FastAPI answers for a route's response model, for a fast path."""
    return Response(body.model_dump_json(), status_code, media_type="application/json")


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def _body_of(request: Request) -> bytes:
    """The body, read as FastAPI reads it: failing to (a body over the limit, a client gone) is
    FastAPI's 400, which the handlers of ``install_common_http`` turn into the right answer."""
    try:
        return await request.body()
    except Exception as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, FASTAPI_BODY_PARSE_ERROR) from error


def _declared_as_json(request: Request, body: bytes) -> Request:
    """The request with its content type replaced by JSON, and its body, read already, given
    again to whoever reads it next."""
    headers = [
        (name, b"application/json" if name == b"content-type" else value)
        for name, value in request.scope["headers"]
    ]
    replayed = False

    async def receive() -> Message:
        nonlocal replayed
        if replayed:
            return await request.receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return Request({**request.scope, "headers": headers}, receive)


def install_cors(
    app: FastAPI,
    *,
    allowed_origins: Sequence[str],
    routers: Sequence[APIRouter],
    public: Sequence[PublicRoute],
) -> None:
    """Cross-origin access for the public routes of ``routers`` (included without a prefix)."""
    conditions = {route.endpoint: route.only_with_query for route in public}
    public_routes = [
        (route, conditions[route.endpoint])
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute) and route.endpoint in conditions
    ]
    if len(public_routes) != len(conditions):
        raise ValueError("a public route is not among the service's routes")
    # Outermost of our middleware, so errors (413, 422, 503) carry the CORS headers too.
    app.add_middleware(
        PublicRoutesCorsMiddleware, allowed_origins=allowed_origins, public_routes=public_routes
    )


def install_common_http(
    app: FastAPI,
    *,
    service: str,
    readiness: Mapping[str, ReadinessCheck],
    larger_bodies: Sequence[tuple[re.Pattern[str], int]] = (),
) -> None:
    """Probes, metrics, the body limit and a JSON 500 that never leaks internals."""
    app.add_middleware(BodySizeLimitMiddleware, larger_limits=larger_bodies)
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


def document_common_responses(
    router: APIRouter, body_limits: Mapping[Callable[..., Any], int] | None = None
) -> None:
    """Add the answers every route can give to the OpenAPI schema: 413 for a body over the
    limit (``body_limits`` of some endpoints, else 64 KiB), 401 on admin routes. Call before the
    router is included."""
    for route in router.routes:
        if not isinstance(route, APIRoute):
            continue
        limit = (body_limits or {}).get(route.endpoint, MAX_BODY_BYTES if route.body_field else 0)
        if limit:
            route.responses.setdefault(
                413, {"description": f"request body over {limit // 1024} KiB"}
            )
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
