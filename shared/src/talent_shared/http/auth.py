"""Credentials: the admin bearer token, and the route class that checks a route's credentials
before anything reads its body, so a protected route without valid credentials answers 401 (or
400 for a bad link token) whatever the body.

A credential check is a dependency that needs nothing but the request (its headers, query and
path parameters), marked with :func:`credential_check`. FastAPI parses a JSON body before it
resolves dependencies, so :class:`CredentialsFirstRoute` runs the marked checks of a route first;
FastAPI then resolves them again as usual, which also gives their values to the endpoint.
"""

import hmac
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer

Check = TypeVar("Check", bound=Callable[[Request], Awaitable[Any]])
_CREDENTIAL_CHECKS: set[Callable[..., Any]] = set()

# Documents the bearer scheme in OpenAPI; the check itself reads the header (see require_admin).
bearer_scheme = HTTPBearer(auto_error=False, description="ADMIN_API_TOKEN")


def credential_check(check: Check) -> Check:
    """Mark a dependency taking only the request as a credential check, run before the body."""
    _CREDENTIAL_CHECKS.add(check)
    return check


class CredentialsFirstRoute(APIRoute):
    """Runs the route's credential checks (:func:`credential_check`) before FastAPI's handler."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()
        checks = [
            dependency.call
            for dependency in self.dependant.dependencies
            if dependency.call in _CREDENTIAL_CHECKS
        ]
        if not checks:
            return handle

        async def handle_after_credentials(request: Request) -> Response:
            for check in checks:
                await check(request)
            return await handle(request)

        return handle_after_credentials


def presented_bearer(request: Request) -> str:
    """The token of an ``Authorization: Bearer`` header, or the empty string."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token if scheme.lower() == "bearer" else ""


def admin_token_matches(presented: str, expected: str) -> bool:
    """Compare in constant time, so response timing reveals nothing about the token; an empty
    configured token never matches."""
    return hmac.compare_digest(presented.encode(), expected.encode()) and bool(expected)


def is_admin(request: Request) -> bool:
    expected: str = request.app.state.settings.admin_api_token.get_secret_value()
    return admin_token_matches(presented_bearer(request), expected)


@credential_check
async def require_admin(request: Request) -> None:
    if not is_admin(request):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="missing or invalid admin bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )


# The route's dependencies: the check, and the scheme for the OpenAPI document.
AdminOnly = [Depends(bearer_scheme), Depends(require_admin)]


def api_router(tag: str, *, admin: bool = False) -> APIRouter:
    """A group of a service's routes under ``/v1``, shown under ``tag`` in the docs, whose
    credential checks run before the body is read; with ``admin``, every route of the group
    needs the admin token (so a new admin route cannot forget it)."""
    return APIRouter(
        prefix="/v1",
        route_class=CredentialsFirstRoute,
        tags=[tag],
        dependencies=AdminOnly if admin else None,
    )
