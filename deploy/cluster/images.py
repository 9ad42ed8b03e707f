"""The images the cluster runs, loaded into the node's containerd (no registry answers here).

From the Docker engine `make compose-up` filled: the project's images (built by
deploy/docker/images.py, tag TAG or `latest`) and the stand-ins the test overlay names. They
are streamed with `docker save` into `ctr images import`, then tagged with the version the
production overlay names (1.0.0). The add-on images come from build.addon_archive().
"""

import subprocess
import sys
import time
from pathlib import Path

from deploy.cluster import layout, processes

PROJECT_IMAGES = ("signup", "jobs", "notifications", "site")
PRODUCTION_TAG = "1.0.0"  # deploy/k8s/overlays/production: images
# The stand-ins deploy/k8s/overlays/local runs (deploy/docker/images.py tags them).
INFRA_IMAGES = (
    "talent-standin/kafka:4.1.2",
    "talent-standin/postgres:15",
    "talent-standin/mailsink:1",
)


def qualified(image: str) -> str:
    return image if image.startswith("docker.io/") else f"docker.io/{image}"


def _import(archive_stream: subprocess.Popen[bytes] | Path) -> None:
    if isinstance(archive_stream, Path):
        with archive_stream.open("rb") as archive:
            result = processes.ctr("images", "import", "-", stdin=archive)
    else:
        result = processes.ctr("images", "import", "-", stdin=archive_stream.stdout)
        if archive_stream.wait() != 0:
            sys.exit("cluster: docker save failed")
    if result.returncode != 0:
        sys.exit(f"cluster: ctr images import failed:\n{result.stderr.decode(errors='replace')}")


def present() -> set[str]:
    listed = processes.ctr("images", "list", "--quiet")
    return set(listed.stdout.decode().split())


def load(addon_archive: Path, source_tag: str) -> float:
    """Every image into containerd (what is already there is skipped); the seconds it took."""
    started = time.monotonic()
    have = present()
    project = [f"talent-network/{name}:{source_tag}" for name in PROJECT_IMAGES]
    wanted = [image for image in (*project, *INFRA_IMAGES) if qualified(image) not in have]
    missing = [
        image
        for image in wanted
        if subprocess.run(
            ["docker", "image", "inspect", image], capture_output=True, check=False
        ).returncode
        != 0
    ]
    if missing:
        sys.exit(f"cluster: the Docker engine lacks {', '.join(missing)}: run `make compose-up`")
    if wanted:
        save = subprocess.Popen(["docker", "save", *wanted], stdout=subprocess.PIPE)
        _import(save)
    if not {qualified(image) for image in build_addon_tags()} <= have:
        _import(addon_archive)
    for name in PROJECT_IMAGES:
        tag(f"talent-network/{name}:{source_tag}", f"talent-network/{name}:{PRODUCTION_TAG}")
    took = time.monotonic() - started
    print(f"cluster: images loaded into containerd in {took:.0f} s", flush=True)
    return took


def tag(source: str, target: str) -> None:
    """Tag an image containerd has (the rolling update test makes its new version this way)."""
    result = processes.ctr("images", "tag", "--force", qualified(source), qualified(target))
    if result.returncode != 0:
        error = result.stderr.decode(errors="replace")
        sys.exit(f"cluster: ctr images tag {source} {target} failed:\n{error}")


def build_addon_tags() -> tuple[str, ...]:
    return (
        layout.PAUSE_IMAGE,
        layout.COREDNS_IMAGE,
        layout.TRAEFIK_IMAGE,
        layout.METRICS_SERVER_IMAGE,
    )
