"""nginx configurations made from the route table: the gateway's server (local and compose)
and the site image's (what the Kubernetes Ingress sends pages and rate-limited paths to)."""

from deploy.gateway.routes import (
    API_ROUTES,
    CONTENT_SECURITY_POLICY,
    INGEST_BURST,
    INGEST_RATE,
    INGEST_RATE_VARIABLE,
    LOG_FORMAT,
    PAGE_UNAVAILABLE,
    PAGES,
    RATE_LIMITED,
    RENDERED_PATHS,
    RENDERED_PREFIXES,
    SERVICE_PORTS,
    SITE_PORT,
    STATIC_FILES,
    STATIC_FOLDERS,
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
            lines += _rate_limit() if prefix in RATE_LIMITED else []
            lines += ["    }"]
    return lines


def _rate_limit() -> list[str]:
    """In a location: the ingest limit; its own error pages (a location's error_page replaces
    the server's)."""
    return [
        f"        limit_req zone=talent_ingest burst={INGEST_BURST} nodelay;",
        "        error_page 429 = @rate_limited;",
        "        error_page 502 503 504 = @unavailable;",
    ]


def _limits_and_logs(ingest_rate: str) -> list[str]:
    """What an http block needs for the server below: the ingest limit's zone, and the access
    log format without query strings."""
    return [
        f"limit_req_zone $binary_remote_addr zone=talent_ingest:10m rate={ingest_rate};",
        LOG_FORMAT,
        "",
    ]


RATE_LIMITED_LOCATION = [
    "    limit_req_status 429;",
    "    location @rate_limited {",
    "        add_header Retry-After 1 always;",
    "        default_type application/json;",
    '        return 429 \'{"detail":"too many requests from this address: retry shortly"}\';',
    "    }",
]


def _rendered_locations() -> list[str]:
    """The rendered pages; while their service is down, a page for people instead of JSON."""
    lines: list[str] = []
    matches = [(f"= {path}", service) for path, service in RENDERED_PATHS.items()]
    for prefix, service in RENDERED_PREFIXES.items():
        matches += [(f"= {prefix}", service), (f"^~ {prefix}/", service)]
    for match, service in matches:
        lines += [f"    location {match} {{", f"        proxy_pass http://talent_{service};"]
        lines += ["        error_page 502 503 504 = @page_unavailable;", "    }"]
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


def _common_settings(*, listen: str, web_root: str) -> list[str]:
    """What the gateway and the site's own nginx share: the site's root and response headers."""
    return [
        f"    listen {listen};",
        f"    root {web_root};",
        "    charset utf-8;",
        "    server_tokens off;",
        "    gzip on;",
        "    gzip_types text/css application/javascript application/json;",
        "",
        f'    add_header Content-Security-Policy "{CONTENT_SECURITY_POLICY}" always;',
        '    add_header X-Content-Type-Options "nosniff" always;',
        '    add_header Referrer-Policy "same-origin" always;',
    ]


def _fallback_locations() -> list[str]:
    """An API path no service owns is a JSON 404, /healthz answers, any other path is a 404."""
    return [
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
    ]


def server_config(
    *,
    listen: str,
    web_root: str,
    addresses: dict[str, str],
    access_log: str,
    ingest_rate: str = INGEST_RATE,
) -> str:
    """What the gateway's http block holds: the limits and log format, the upstreams and the
    server block, the part every gateway nginx config shares."""
    lines = [
        "# Generated from deploy/gateway/routes.py: edit the route table there, not this file.",
        "",
        *_limits_and_logs(ingest_rate),
        *_upstreams(addresses),
        "server {",
        *_common_settings(listen=listen, web_root=web_root),
        f"    access_log {access_log} talent_redacted;",
        "",
        "    client_max_body_size 32m;  # each service answers 413 past its own limits",
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
        "    location @page_unavailable {",
        "        default_type text/html;",
        f"        return 503 '{PAGE_UNAVAILABLE}';",
        "    }",
        *RATE_LIMITED_LOCATION,
        *_api_locations(),
        *_rendered_locations(),
        *_fallback_locations(),
        "}",
    ]
    return "\n".join(lines) + "\n"


# The temporary folders nginx writes to; under a writable folder when the root is read-only.
TEMP_KINDS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def site_config(
    *,
    listen: str = str(SITE_PORT),
    web_root: str = "/usr/share/nginx/html",
    run_dir: str = "/tmp",
    access_log: str = "/dev/stdout",
    api_addresses: dict[str, str] | None = None,
) -> str:
    """The whole nginx.conf of the site image: the pages and static files of the gateway, and
    the rate-limited API prefixes (the Ingress sends them here, so the limit holds whatever the
    Ingress controller; the client is the address the controller puts in X-Forwarded-For). It
    runs as any non-root user on a read-only root: it writes under ``run_dir`` only (an emptyDir
    in Kubernetes)."""
    lines = [
        "# Generated from deploy/gateway/routes.py: edit the route table there, not this file.",
        "# The careers site alone (the Kubernetes Ingress sends its pages here): non-root, and",
        f"# nothing written outside {run_dir}. Logs go to stdout and stderr.",
        "worker_processes 2;",
        f"pid {run_dir}/nginx.pid;",
        "error_log stderr warn;",
        "events {",
        "    worker_connections 1024;",
        "}",
        "http {",
        "    include /etc/nginx/mime.types;",
        "    default_type application/octet-stream;",
        "    sendfile on;",
        *(f"    {kind}_temp_path {run_dir}/{kind};" for kind in TEMP_KINDS),
        *(f"    {line}" if line else line for line in _limits_and_logs(INGEST_RATE)),
        *(
            f"    {line}" if line else line
            for line in _upstreams(api_addresses or _limited_upstreams())
        ),
        "    server {",
        *(
            f"    {line}" if line else line
            for line in _common_settings(listen=listen, web_root=web_root)
        ),
        f"        access_log {access_log} talent_redacted;",
        *(f"    {line}" for line in _behind_the_ingress()),
        "",
        *(f"    {line}" for line in _limited_locations()),
        *(f"    {line}" for line in _fallback_locations()),
        "    }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def _limited_upstreams() -> dict[str, str]:
    """The Services (in Kubernetes) the site proxies its rate-limited API prefixes to."""
    services = {API_ROUTES[prefix] for prefix in RATE_LIMITED}
    return {service: f"{service}:{SERVICE_PORTS[service]}" for service in sorted(services)}


def _behind_the_ingress() -> list[str]:
    """The client is the address the Ingress controller (a pod) puts in X-Forwarded-For."""
    private = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
    return [
        *(f"    set_real_ip_from {network};" for network in private),
        "    real_ip_header X-Forwarded-For;",
        "    real_ip_recursive on;",
        "    proxy_http_version 1.1;",
        '    proxy_set_header Connection "";',
        "    proxy_set_header Host $host;",
        "    proxy_set_header X-Forwarded-For $remote_addr;",
        "    error_page 502 503 504 = @unavailable;",
        "    location @unavailable {",
        "        default_type application/json;",
        '        return 503 \'{"detail":"the service is unavailable, try again shortly"}\';',
        "    }",
        *RATE_LIMITED_LOCATION,
    ]


def _limited_locations() -> list[str]:
    lines: list[str] = []
    for prefix in sorted(RATE_LIMITED):
        for location in (f"= {prefix}", f"^~ {prefix}/"):
            lines += [f"    location {location} {{"]
            lines += [f"        proxy_pass http://talent_{API_ROUTES[prefix]};", *_rate_limit()]
            lines += ["    }"]
    return lines


def compose_config() -> str:
    """The compose gateway's template (the nginx image renders /etc/nginx/templates/*.template
    with the environment at start): web/ at its html folder, the rate from the environment."""
    addresses = {service: f"{service}:{port}" for service, port in SERVICE_PORTS.items()}
    return server_config(
        listen="8080",
        web_root="/usr/share/nginx/html",
        addresses=addresses,
        access_log="/var/log/nginx/access.log",
        ingest_rate=f"${{{INGEST_RATE_VARIABLE}}}",
    )
