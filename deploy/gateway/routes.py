"""The public origin's one route table, and the three gateway configurations made from it.

The local nginx config (rendered at start by deploy/gateway/local.py), the compose nginx config
and the Kubernetes Ingress all come from ``API_ROUTES`` and ``PAGES`` below, so a route is added
in one place. Regenerate the committed files with ``python -m deploy.gateway.routes``;
tests/deploy/test_gateway.py fails when they differ from the table.
"""

from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
WEB_ROOT = REPO_ROOT / "web"
COMPOSE_CONFIG = REPO_ROOT / "deploy" / "gateway" / "nginx.compose.conf"
INGRESS_MANIFEST = REPO_ROOT / "deploy" / "k8s" / "base" / "ingress.yaml"

# The contract's service ports (compose and Kubernetes service names are the service names).
SERVICE_PORTS = {"signup": 8001, "jobs": 8002, "notifications": 8003}

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
}


@dataclass(frozen=True)
class Page:
    """A site page: an exact path, or a regular expression when ``pattern`` is set."""

    path: str
    file: str
    pattern: bool = False


PAGES = (
    Page("/", "index.html"),
    Page("/jobs", "jobs.html"),
    Page(r"^/jobs/[A-Za-z0-9-]+$", "job.html", pattern=True),
    Page("/preferences", "preferences.html"),
)
STATIC_FILES = ("/talent.js",)
STATIC_FOLDERS = ("/assets/",)

# Pages may load nothing from outside the origin; the browser enforces it.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def _upstreams(addresses: dict[str, str]) -> list[str]:
    lines: list[str] = []
    for service, address in addresses.items():
        lines += [f"upstream talent_{service} {{", f"    server {address};", "    keepalive 16;"]
        lines += ["}", ""]
    return lines


def _api_locations() -> list[str]:
    lines: list[str] = []
    for prefix, service in API_ROUTES.items():
        for location in (f"= {prefix}", f"^~ {prefix}/"):
            lines += [f"    location {location} {{", f"        proxy_pass http://talent_{service};"]
            lines += ["    }"]
    return lines


def _page_locations() -> list[str]:
    lines: list[str] = []
    for page in PAGES:
        match = f"~ {page.path}" if page.pattern else f"= {page.path}"
        lines += [f"    location {match} {{", f"        try_files /{page.file} =404;", "    }"]
    for path in STATIC_FILES:
        lines += [f"    location = {path} {{", "    }"]
    for folder in STATIC_FOLDERS:
        lines += [f"    location ^~ {folder} {{", "    }"]
    return lines


def server_config(*, listen: str, web_root: str, addresses: dict[str, str]) -> str:
    """Upstreams and the server block: the part every nginx config shares."""
    lines = [
        "# Generated from deploy/gateway/routes.py: edit the route table there, not this file.",
        "",
        *_upstreams(addresses),
        "server {",
        f"    listen {listen};",
        f"    root {web_root};",
        "    charset utf-8;",
        "    server_tokens off;",
        "    client_max_body_size 1m;  # the services answer 413 themselves, past their own limits",
        "    gzip on;",
        "    gzip_types text/css application/javascript application/json;",
        "",
        f'    add_header Content-Security-Policy "{CONTENT_SECURITY_POLICY}" always;',
        '    add_header X-Content-Type-Options "nosniff" always;',
        '    add_header Referrer-Policy "same-origin" always;',
        "",
        "    proxy_http_version 1.1;",
        '    proxy_set_header Connection "";',
        "    proxy_set_header Host $host;",
        "    # The gateway is the edge: the client address is the one it sees, not one it is told.",
        "    proxy_set_header X-Forwarded-For $remote_addr;",
        "    proxy_set_header X-Forwarded-Proto $scheme;",
        "    proxy_set_header X-Forwarded-Host $host;",
        "",
        "    # A service that is down answers like one that is busy: 503, the front end retries.",
        "    error_page 502 503 504 = @unavailable;",
        "    location @unavailable {",
        "        default_type application/json;",
        '        return 503 \'{"detail":"the service is unavailable, try again shortly"}\';',
        "    }",
        *_api_locations(),
        "    location /v1/ {",
        "        default_type application/json;",
        '        return 404 \'{"detail":"Not Found"}\';',
        "    }",
        "    location = /healthz {",
        "        default_type text/plain;",
        "        return 200 'ok';",
        "    }",
        *_page_locations(),
        "    location / {",
        "        return 404;",
        "    }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def compose_config() -> str:
    """The compose gateway's conf.d file: the nginx image, web/ at its html folder."""
    addresses = {service: f"{service}:{port}" for service, port in SERVICE_PORTS.items()}
    return server_config(listen="8080", web_root="/usr/share/nginx/html", addresses=addresses)


def ingress_manifest() -> str:
    """The Kubernetes Ingress: each API prefix to the Service that owns it."""
    lines = [
        "# Generated from deploy/gateway/routes.py: edit the route table there, not this file.",
        "# Routes the public API of the careers origin to the services; set the host and the",
        "# TLS Secret (talent-careers-tls) for your domain in an overlay.",
        "apiVersion: networking.k8s.io/v1",
        "kind: Ingress",
        "metadata:",
        "  name: talent-gateway",
        "spec:",
        "  tls:",
        "    - hosts:",
        "        - careers.example.org",
        "      secretName: talent-careers-tls",
        "  rules:",
        "    - host: careers.example.org",
        "      http:",
        "        paths:",
    ]
    for prefix, service in API_ROUTES.items():
        lines += [
            f"          - path: {prefix}",
            "            pathType: Prefix",
            "            backend:",
            "              service:",
            f"                name: {service}",
            "                port:",
            "                  name: http",
        ]
    return "\n".join(lines) + "\n"


def write_committed_files() -> None:
    COMPOSE_CONFIG.write_text(compose_config())
    INGRESS_MANIFEST.write_text(ingress_manifest())


if __name__ == "__main__":
    write_committed_files()
    for written in (COMPOSE_CONFIG, INGRESS_MANIFEST):
        print(f"wrote {written.relative_to(REPO_ROOT)}")
