"""Write the committed files made from the route table: ``python -m deploy.gateway``."""

from deploy.gateway.ingress import ingress_manifest
from deploy.gateway.nginx import compose_config, site_config
from deploy.gateway.routes import COMPOSE_CONFIG, INGRESS_MANIFEST, REPO_ROOT, SITE_CONFIG


def write_committed_files() -> None:
    COMPOSE_CONFIG.write_text(compose_config())
    INGRESS_MANIFEST.write_text(ingress_manifest())
    SITE_CONFIG.write_text(site_config())


if __name__ == "__main__":
    write_committed_files()
    for written in (COMPOSE_CONFIG, INGRESS_MANIFEST, SITE_CONFIG):
        print(f"wrote {written.relative_to(REPO_ROOT)}")
