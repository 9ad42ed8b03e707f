"""The public origin's one route table: which service owns each API prefix and page, which
paths are rate-limited, and the policies every origin applies.

The local nginx config (rendered at start by deploy/local/gateway.py), the compose nginx config
and the nginx config of the site image (deploy/gateway/nginx.py), and the Kubernetes Ingress
(deploy/gateway/ingress.py) all come from ``API_ROUTES``, ``RENDERED_PATHS``,
``RENDERED_PREFIXES`` and ``PAGES`` below, so a route is added in one place.
Regenerate the committed files with ``python -m deploy.gateway``;
tests/deploy/test_gateway.py fails when they differ from the table.
"""

import re
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
WEB_ROOT = REPO_ROOT / "web"
COMPOSE_CONFIG = REPO_ROOT / "deploy" / "gateway" / "nginx.compose.conf"
INGRESS_MANIFEST = REPO_ROOT / "deploy" / "k8s" / "base" / "ingress.yaml"
SITE_CONFIG = REPO_ROOT / "deploy" / "docker" / "site" / "nginx.conf"

# The contract's service ports (compose and Kubernetes service names are the service names).
SERVICE_PORTS = {"signup": 8001, "jobs": 8002, "notifications": 8003}
# The site image's nginx (deploy/docker/site): an unprivileged port, and the Service's name.
SITE_SERVICE = "site"
SITE_PORT = 8080

# Every API path prefix, and the service that owns it. A prefix matches itself and what
# follows a "/" (so /v1/jobs and /v1/jobs/{id}, never /v1/jobsearch).
API_ROUTES = {
    "/v1/signups": "signup",
    "/v1/candidates": "signup",
    "/v1/preferences": "signup",
    "/v1/unsubscribe": "signup",
    "/v1/jobs": "jobs",
    "/v1/job-views": "jobs",
    "/v1/visitors": "jobs",
    "/v1/deliveries": "notifications",
    "/v1/email-feedback": "notifications",
}
# API prefixes limited per client address at the public origin (job views: no preflight is
# needed to post them, so any page could make its visitors flood them). Over the limit: 429 with
# Retry-After. INGEST_RATE_PER_IP sets the rate where the config is rendered from the
# environment (the local gateway at start; compose and the site image through their templates).
RATE_LIMITED = {"/v1/job-views"}
INGEST_RATE = "20r/s"
INGEST_BURST = 100
INGEST_RATE_VARIABLE = "INGEST_RATE_PER_IP"
# Access logs never hold a query string (tokens, email addresses) nor a referer (which may be a
# page whose own URL held one).
LOG_FORMAT = (
    "log_format talent_redacted '$remote_addr [$time_local] "
    '"$request_method $uri $server_protocol" $status $body_bytes_sent $request_time '
    '"$http_user_agent"\';'
)


@dataclass(frozen=True)
class Page:
    """A site page: an exact path, or a regular expression when ``pattern`` is set."""

    path: str
    file: str
    pattern: bool = False

    @property
    def ingress_path(self) -> tuple[str, str]:
        """The Ingress path and pathType that reach it. An Ingress has no regular expressions:
        a pattern's literal folder (/jobs for ^/jobs/[...]+$) as a Prefix, and the site's own
        nginx matches the pattern exactly (so /jobs/a/b is its 404)."""
        if not self.pattern:
            return self.path, "Exact"
        literal = re.match(r"\^(/[A-Za-z0-9_/-]*/)", self.path)
        assert literal, f"a page pattern starts with ^ and a literal folder: {self.path}"
        return literal.group(1).rstrip("/"), "Prefix"


# Pages the jobs service renders from its catalogue (so search engines and link previews see
# them whole): each exact path, and each prefix with every path under it (a job's page, or the
# service's own 404 page).
RENDERED_PATHS = {"/": "jobs", "/sitemap.xml": "jobs", "/robots.txt": "jobs"}
RENDERED_PREFIXES = {"/jobs": "jobs"}
PAGES = (Page("/preferences", "preferences.html"),)
STATIC_FILES = ("/talent.js", "/favicon.ico")
STATIC_FOLDERS = ("/assets/",)

# Pages may load nothing from outside the origin; the browser enforces it.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)

# What the gateway answers for a rendered page while its service is down.
PAGE_UNAVAILABLE = (
    '<!doctype html><html lang="en"><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    "<title>Please try again shortly · Careers</title>"
    '<link rel="stylesheet" href="/assets/site.css">'
    '<main class="wrap narrow"><h1>Please try again shortly</h1>'
    "<p>Our job catalogue is briefly unavailable. Reload this page in a few seconds.</p></main>"
)
