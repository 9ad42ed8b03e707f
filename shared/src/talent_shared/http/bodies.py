"""Reading request bodies outside FastAPI's usual path: JSON sent as ``text/plain`` (what
``navigator.sendBeacon`` sends), and the fast path of hot routes."""

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from fastapi import HTTPException, Request, Response, status
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.types import Message

from talent_shared.http.auth import CredentialsFirstRoute

FASTAPI_BODY_PARSE_ERROR = "There was an error parsing the body"


class TextPlainJsonRoute(CredentialsFirstRoute):
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


def fast_path_route(
    fast_path: FastPath, *, base: type[APIRoute] = CredentialsFirstRoute
) -> type[APIRoute]:
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
