"""ASGI middleware every service shares: the request body limit and the request metrics."""

import re
import time
from collections.abc import Sequence
from typing import Any

from fastapi import status
from fastapi.responses import JSONResponse
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 64 * 1024

HTTP_REQUESTS = Counter(
    "talent_http_requests_total", "HTTP requests", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "talent_http_request_duration_seconds", "HTTP request latency", ["service", "method", "route"]
)


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
