"""What every service's app has: probes, metrics, the error shape (no 500 for bad input), the
responses documented on every route, and correlation ids."""

import re
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, FastAPI, Request, Response, status
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from talent_shared.errors import is_transient
from talent_shared.http.auth import require_admin
from talent_shared.http.bodies import FASTAPI_BODY_PARSE_ERROR
from talent_shared.http.middleware import MAX_BODY_BYTES, BodySizeLimitMiddleware, MetricsMiddleware
from talent_shared.logging import get_logger

log = get_logger(__name__)

ReadinessCheck = Callable[[], Awaitable[bool]]
# A service's domain errors and the HTTP status each answers (its message is the detail).
ErrorStatuses = Mapping[type[Exception], int]
# The answers a route documents besides its success (OpenAPI's ``responses``).
Responses = dict[int | str, dict[str, Any]]


def described(status_code: int, description: str) -> Responses:
    """One documented answer of a route: ``responses=described(404, "no job with this id")``;
    combine them with ``|``."""
    return {status_code: {"description": description}}


def install_common_http(
    app: FastAPI,
    *,
    service: str,
    readiness: Mapping[str, ReadinessCheck],
    larger_bodies: Sequence[tuple[re.Pattern[str], int]] = (),
    errors: ErrorStatuses | None = None,
) -> None:
    """Probes, metrics, the body limit, the service's domain errors as their HTTP answers, and
    a JSON 500 that never leaks internals."""
    app.add_middleware(BodySizeLimitMiddleware, larger_limits=larger_bodies)
    app.add_middleware(MetricsMiddleware, service=service)
    app.include_router(_probe_router(readiness))
    for error_type, status_code in (errors or {}).items():
        app.add_exception_handler(error_type, _answer_with(status_code))

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


def _answer_with(status_code: int) -> Callable[[Request, Exception], Awaitable[Response]]:
    async def answer(_request: Request, error: Exception) -> Response:
        headers = getattr(error, "headers", None)
        return JSONResponse({"detail": str(error)}, status_code=status_code, headers=headers)

    return answer


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
