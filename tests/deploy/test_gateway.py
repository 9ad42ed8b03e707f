"""The public origin's gateway: the committed configs match the one route table, every API path
is routed to the service that owns it, and the real nginx routes, forwards and refuses as told."""

import functools
import json
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import yaml
from fastapi import FastAPI

from deploy.gateway.ingress import ingress_manifest
from deploy.gateway.nginx import compose_config, site_config
from deploy.gateway.routes import (
    API_ROUTES,
    COMPOSE_CONFIG,
    CONTENT_SECURITY_POLICY,
    INGRESS_MANIFEST,
    PAGES,
    RATE_LIMITED,
    RENDERED_PATHS,
    RENDERED_PREFIXES,
    SERVICE_PORTS,
    SITE_CONFIG,
    SITE_SERVICE,
    STATIC_FILES,
    STATIC_FOLDERS,
    WEB_ROOT,
)
from deploy.local.apt import ensure_debian_package
from deploy.local.gateway import Gateway
from devsupport.infra import REPO_ROOT
from devsupport.ports import free_port
from talent_jobs import pages
from talent_jobs.app import create_app as create_jobs_app
from talent_notifications.app import create_app as create_notifications_app
from talent_signup.app import create_app as create_signup_app

REGENERATE = "regenerate with: python -m deploy.gateway"
# A path of each static page of the route table (a pattern page's path is an example of it).
PAGE_EXAMPLES = {"/preferences": "preferences.html"}
# A path of each rendered page, and the service that renders it.
RENDERED_EXAMPLES = {
    "/": "jobs",
    "/jobs": "jobs",
    "/jobs/42-abc": "jobs",
    "/jobs/42-abc/more": "jobs",
    "/sitemap.xml": "jobs",
    "/robots.txt": "jobs",
}
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
    assert INGRESS_MANIFEST.read_text() == ingress_manifest(), REGENERATE


def test_the_committed_site_config_is_generated_from_the_route_table() -> None:
    assert SITE_CONFIG.read_text() == site_config(), REGENERATE


def elements(path: str) -> list[str]:
    return [element for element in path.split("/") if element]


def ingress_backend(path: str) -> str | None:
    """The Service the committed Ingress sends ``path`` to, as Kubernetes matches: an Exact
    path first, else the longest Prefix whose /-separated elements begin the path's."""
    [rule] = yaml.safe_load(INGRESS_MANIFEST.read_text())["spec"]["rules"]
    routes: list[tuple[str, str, str]] = [
        (p["path"], p["pathType"], p["backend"]["service"]["name"]) for p in rule["http"]["paths"]
    ]
    exact = [service for route, kind, service in routes if kind == "Exact" and route == path]
    if exact:
        return exact[0]
    prefixes = [
        (len(elements(route)), service)
        for route, kind, service in routes
        if kind == "Prefix" and elements(path)[: len(elements(route))] == elements(route)
    ]
    return max(prefixes)[1] if prefixes else None


def page_file(path: str) -> str | None:
    for page in PAGES:
        if re.fullmatch(page.path, path) if page.pattern else page.path == path:
            return page.file
    return None


def test_the_page_examples_cover_every_page_of_the_route_table() -> None:
    assert {path: page_file(path) for path in PAGE_EXAMPLES} == PAGE_EXAMPLES
    assert set(PAGE_EXAMPLES.values()) == {page.file for page in PAGES}


@pytest.mark.parametrize(
    "path", [*PAGE_EXAMPLES, *STATIC_FILES, *(f"{f}site.css" for f in STATIC_FOLDERS)]
)
def test_the_ingress_sends_every_page_and_static_path_to_the_site(path: str) -> None:
    assert ingress_backend(path) == SITE_SERVICE


@pytest.mark.parametrize(("path", "service"), RENDERED_EXAMPLES.items())
def test_the_ingress_sends_every_rendered_page_to_its_service(path: str, service: str) -> None:
    assert ingress_backend(path) == service


def test_the_rendered_examples_cover_every_rendered_route() -> None:
    assert set(RENDERED_PATHS) | set(RENDERED_PREFIXES) <= set(RENDERED_EXAMPLES)


def test_the_jobs_service_sends_the_gateways_content_security_policy() -> None:
    assert pages.CONTENT_SECURITY_POLICY == CONTENT_SECURITY_POLICY


@pytest.mark.parametrize(("prefix", "service"), API_ROUTES.items())
def test_the_ingress_sends_every_api_route_to_its_service(prefix: str, service: str) -> None:
    # A rate-limited prefix goes through the site's nginx, which limits it and proxies it on.
    expected = SITE_SERVICE if prefix in RATE_LIMITED else service
    assert ingress_backend(prefix) == expected
    assert ingress_backend(f"{prefix}/abc/def") == expected


def test_the_ingress_sends_api_paths_no_service_owns_to_the_sites_json_404() -> None:
    assert ingress_backend("/v1/jobsearch") == SITE_SERVICE


def test_the_ingress_sends_no_other_path_anywhere() -> None:
    assert ingress_backend("/nothing-here") is None


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
    ("path", "page"), [*PAGE_EXAMPLES.items(), ("/preferences?token=x", "preferences.html")]
)
def test_site_paths_serve_their_pages(gateway: Gateway, path: str, page: str) -> None:
    response = httpx.get(f"{gateway.url}{path}")
    assert response.status_code == 200
    assert response.text == (REPO_ROOT / "web" / page).read_text()
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize(("path", "service"), RENDERED_EXAMPLES.items())
def test_rendered_pages_reach_their_service_unchanged(
    gateway: Gateway, path: str, service: str
) -> None:
    answer = httpx.get(f"{gateway.url}{path}?q=x").json()
    assert (answer["service"], answer["path"]) == (service, f"{path}?q=x")


def test_a_rendered_page_whose_service_is_down_is_an_html_503(tmp_path: Path) -> None:
    down = Gateway(
        port=free_port(),
        state_dir=tmp_path,
        service_ports={service: free_port() for service in SERVICE_PORTS},  # nothing listens
    )
    down.start()
    try:
        response = httpx.get(f"{down.url}/jobs")
    finally:
        down.stop()
    assert response.status_code == 503
    assert response.headers["Content-Type"].startswith("text/html")
    assert "Please try again shortly" in response.text


def test_the_favicon_is_an_icon(gateway: Gateway) -> None:
    response = httpx.get(f"{gateway.url}/favicon.ico")
    assert response.status_code == 200
    assert response.content == (WEB_ROOT / "favicon.ico").read_bytes()


def test_talent_js_is_served_as_javascript(gateway: Gateway) -> None:
    response = httpx.get(f"{gateway.url}/talent.js")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/javascript")


def hammer(url: str, *, source: str = "127.0.0.1", count: int = 200) -> list[httpx.Response]:
    """``count`` requests in a row from the client address ``source``."""
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, timeout=10) as client:
        return [client.get(url) for _ in range(count)]


def test_job_views_past_a_clients_rate_are_429_with_retry_after(gateway: Gateway) -> None:
    answers = hammer(f"{gateway.url}/v1/job-views/batch")
    limited = [answer for answer in answers if answer.status_code == 429]
    assert limited
    assert {answer.headers["Retry-After"] for answer in limited} == {"1"}
    assert "too many requests" in limited[0].json()["detail"]


def test_a_clients_job_views_limit_leaves_other_clients_alone(gateway: Gateway) -> None:
    assert 429 in {answer.status_code for answer in hammer(f"{gateway.url}/v1/job-views")}
    [other] = hammer(f"{gateway.url}/v1/job-views", source="127.0.0.2", count=1)
    assert other.status_code == 200


def test_other_api_paths_are_not_ingest_limited(gateway: Gateway) -> None:
    answers = hammer(f"{gateway.url}/v1/jobs")
    assert {answer.status_code for answer in answers} == {200}


def test_the_access_log_holds_no_query_string_nor_referer(gateway: Gateway) -> None:
    secret, referer_secret = "token-c0ffee", "token-deadbeef"
    headers = {"Referer": f"{gateway.url}/preferences?token={referer_secret}"}
    httpx.get(f"{gateway.url}/v1/unsubscribe?token={secret}&email=ada@example.org", headers=headers)
    log = (gateway.state_dir / "logs" / "gateway-access.log").read_text()
    assert "/v1/unsubscribe" in log
    assert secret not in log
    assert referer_secret not in log
    assert "ada@example.org" not in log


def test_an_unknown_page_is_404(gateway: Gateway) -> None:
    assert httpx.get(f"{gateway.url}/nothing-here").status_code == 404
    assert httpx.get(f"{gateway.url}/index.html").status_code == 404


# --- the site image's nginx.conf, run by Debian's nginx as an unprivileged user --------------

NOBODY = 65534


def _wait_until_healthy(url: str, process: "subprocess.Popen[bytes]") -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"the site's nginx did not answer on {url} (exit code {process.poll()})")


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    """site_config() as the image runs it: not root (nobody, when the tests run as root),
    everything it writes under its run folder, web/ as the root. Its URL."""
    nginx = ensure_debian_package("nginx", "nginx")
    with tempfile.TemporaryDirectory(prefix="talent-site-") as run_dir:
        port = free_port()
        config = Path(run_dir) / "nginx.conf"
        api = {service: f"127.0.0.1:{free_port()}" for service in ("jobs",)}  # none listens
        config.write_text(
            site_config(
                listen=f"127.0.0.1:{port}",
                web_root=str(WEB_ROOT),
                run_dir=run_dir,
                api_addresses=api,
            )
        )
        as_user = []
        if os.geteuid() == 0:
            os.chown(run_dir, NOBODY, NOBODY)
            as_user = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
        command = [*as_user, nginx, "-c", str(config), "-e", "stderr", "-g", "daemon off;"]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        try:
            _wait_until_healthy(f"http://127.0.0.1:{port}", process)
            yield f"http://127.0.0.1:{port}"
        finally:
            process.send_signal(signal.SIGQUIT)  # the image's STOPSIGNAL: a graceful stop
            process.wait(timeout=10)


@pytest.mark.parametrize(("path", "page"), PAGE_EXAMPLES.items())
def test_the_site_serves_each_page_with_its_file_and_policy(
    site: str, path: str, page: str
) -> None:
    response = httpx.get(f"{site}{path}")
    assert response.status_code == 200
    assert response.text == (WEB_ROOT / page).read_text()
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def test_the_site_serves_talent_js_and_assets(site: str) -> None:
    script = httpx.get(f"{site}/talent.js")
    assert script.headers["Content-Type"].startswith("application/javascript")
    assert httpx.get(f"{site}/assets/site.css").status_code == 200


def test_the_site_answers_api_paths_no_service_owns_with_the_gateways_json_404(site: str) -> None:
    response = httpx.get(f"{site}/v1/jobsearch")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


def test_the_site_refuses_unknown_paths(site: str) -> None:
    assert httpx.get(f"{site}/nothing-here").status_code == 404
    assert httpx.get(f"{site}/jobs").status_code == 404  # the jobs service renders it


def test_the_site_limits_job_views_per_client_with_429_and_retry_after(site: str) -> None:
    answers = hammer(f"{site}/v1/job-views")
    codes = {answer.status_code for answer in answers}
    assert codes == {503, 429}  # within the burst the (absent) service's 503, past it 429
    assert {a.headers["Retry-After"] for a in answers if a.status_code == 429} == {"1"}
