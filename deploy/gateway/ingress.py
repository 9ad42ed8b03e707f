"""The Kubernetes Ingress made from the route table."""

from deploy.gateway.routes import (
    API_ROUTES,
    PAGES,
    RATE_LIMITED,
    RENDERED_PATHS,
    RENDERED_PREFIXES,
    SITE_SERVICE,
    STATIC_FILES,
    STATIC_FOLDERS,
)


def ingress_paths() -> list[tuple[str, str, str]]:
    """(path, pathType, Service) of each Ingress rule: each API prefix to the Service that owns
    it, the other /v1 paths to the site (its JSON 404, as the gateway answers), the rendered
    pages to their service, the static pages and files to the site."""
    paths = [
        (prefix, "Prefix", SITE_SERVICE if prefix in RATE_LIMITED else service)
        for prefix, service in API_ROUTES.items()
    ]
    paths.append(("/v1", "Prefix", SITE_SERVICE))
    paths += [(path, "Exact", service) for path, service in RENDERED_PATHS.items()]
    paths += [(prefix, "Prefix", service) for prefix, service in RENDERED_PREFIXES.items()]
    paths += [(*page.ingress_path, SITE_SERVICE) for page in PAGES]
    paths += [(path, "Exact", SITE_SERVICE) for path in STATIC_FILES]
    paths += [(folder.rstrip("/"), "Prefix", SITE_SERVICE) for folder in STATIC_FOLDERS]
    return paths


def ingress_manifest() -> str:
    """The Kubernetes Ingress of the careers origin, from ``ingress_paths``."""
    lines = [
        "# Generated from deploy/gateway/routes.py: edit the route table there, not this file.",
        "# The careers origin: each API prefix to the service that owns it, the rendered pages to",
        "# the jobs service, the static pages and files to the site (deploy/k8s/base/site.yaml);",
        "# the longest matching path wins. Set the host and the TLS Secret (talent-careers-tls)",
        "# for your domain in an overlay.",
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
    for path, path_type, service in ingress_paths():
        lines += [
            f"          - path: {path}",
            f"            pathType: {path_type}",
            "            backend:",
            "              service:",
            f"                name: {service}",
            "                port:",
            "                  name: http",
        ]
    return "\n".join(lines) + "\n"
