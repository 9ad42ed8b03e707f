"""Cross-origin access (CORS_ALLOWED_ORIGINS) for a service's public routes, and for them only."""

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette._utils import get_route_path
from starlette.datastructures import Headers, QueryParams
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

CORS_MAX_AGE_SECONDS = 600


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
