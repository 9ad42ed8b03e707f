"""The public origin's gateway: the committed configs match the one route table, every API path
is routed to the service that owns it, and the real nginx routes, forwards and refuses as told."""

import functools
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import yaml
from fastapi import FastAPI

from deploy.gateway.local import Gateway
from deploy.gateway.routes import (
    API_ROUTES,
    COMPOSE_CONFIG,
    INGRESS_MANIFEST,
    SERVICE_PORTS,
    compose_config,
    ingress_manifest,
)
from talent_jobs.app import create_app as create_jobs_app
from talent_notifications.app import create_app as create_notifications_app
from talent_signup.app import create_app as create_signup_app
from tests.support.infra import REPO_ROOT
from tests.support.processes import free_port

REGENERATE = "regenerate with: python -m deploy.gateway.routes"
APPS: dict[str, Callable[[], FastAPI]] = {
    "signup": create_signup_app,
    "jobs": create_jobs_app,
    "notifications": create_notifications_app,
}


def owner_of(path: str) -> str | None:
    for prefix, service in API_ROUTES.items():
        if path == prefix or path.startswith(f"{prefix}/"):
            return service
    return None


def test_the_committed_compose_config_is_generated_from_the_route_table() -> None:
    assert COMPOSE_CONFIG.read_text() == compose_config(), REGENERATE


def test_the_committed_ingress_is_generated_from_the_route_table() -> None:
    assert INGRESS_MANIFEST.read_text() == ingress_manifest(), (
        "run: python -m deploy.gateway.routes"
    )


def test_the_kubernetes_base_includes_the_ingress() -> None:
    kustomization = yaml.safe_load((REPO_ROOT / "deploy/k8s/base/kustomization.yaml").read_text())
    assert INGRESS_MANIFEST.name in kustomization["resources"]


@pytest.mark.parametrize("service", SERVICE_PORTS)
def test_every_api_path_is_routed_to_the_service_that_serves_it(service: str) -> None:
    app = APPS[service]()
    api_paths = [path for path in app.openapi()["paths"] if path.startswith("/v1/")]
    assert api_paths
    assert {path: owner_of(path) for path in api_paths} == dict.fromkeys(api_paths, service)


class _EchoHandler(BaseHTTPRequestHandler):
    """A stand-in service: answers every request with its name, path and headers."""

    def __init__(self, name: str, *args: object) -> None:
        self.name = name
        super().__init__(*args)  # type: ignore[arg-type]

    def do_GET(self) -> None:
        body = json.dumps(
            {"service": self.name, "path": self.path, "headers": dict(self.headers.items())}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """The real nginx in front of stand-in signup and jobs services; notifications is down."""
    servers = {
        name: ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_EchoHandler, name))
        for name in ("signup", "jobs")
    }
    for server in servers.values():
        threading.Thread(target=server.serve_forever, daemon=True).start()
    ports = {name: server.server_address[1] for name, server in servers.items()}
    state: Path = tmp_path_factory.mktemp("gateway")
    running = Gateway(
        port=free_port(),
        state_dir=state,
        service_ports={**ports, "notifications": free_port()},  # nothing listens there
    )
    running.start()
    try:
        yield running
    finally:
        running.stop()
        for server in servers.values():
            server.shutdown()
            server.server_close()


def test_each_api_path_reaches_its_service_unchanged(gateway: Gateway) -> None:
    for path, service in (("/v1/jobs/abc?limit=2", "jobs"), ("/v1/unsubscribe?token=t", "signup")):
        answer = httpx.get(f"{gateway.url}{path}").json()
        assert (answer["service"], answer["path"]) == (service, path)


def test_the_gateway_sets_x_forwarded_for_to_the_client_it_sees(gateway: Gateway) -> None:
    spoofed = {"X-Forwarded-For": "203.0.113.9"}
    answer = httpx.get(f"{gateway.url}/v1/signups", headers=spoofed).json()
    assert answer["headers"]["X-Forwarded-For"] == "127.0.0.1"


def test_a_path_no_service_owns_is_a_json_404(gateway: Gateway) -> None:
    response = httpx.get(f"{gateway.url}/v1/jobsearch")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


def test_a_service_that_is_down_is_a_json_503(gateway: Gateway) -> None:
    response = httpx.get(f"{gateway.url}/v1/deliveries")
    assert response.status_code == 503
    assert "unavailable" in response.json()["detail"]


@pytest.mark.parametrize(
    ("path", "page"),
    [
        ("/", "index.html"),
        ("/jobs", "jobs.html"),
        ("/jobs/42-abc", "job.html"),
        ("/preferences?token=x", "preferences.html"),
    ],
)
def test_site_paths_serve_their_pages(gateway: Gateway, path: str, page: str) -> None:
    response = httpx.get(f"{gateway.url}{path}")
    assert response.status_code == 200
    assert response.text == (REPO_ROOT / "web" / page).read_text()
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def test_talent_js_is_served_as_javascript(gateway: Gateway) -> None:
    response = httpx.get(f"{gateway.url}/talent.js")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/javascript")


def test_an_unknown_page_is_404(gateway: Gateway) -> None:
    assert httpx.get(f"{gateway.url}/nothing-here").status_code == 404
    assert httpx.get(f"{gateway.url}/jobs/a/b").status_code == 404
