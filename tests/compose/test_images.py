"""The project's images, as `make compose-up` built them: non-root, no build tools, no CA secret;
the site image (what Kubernetes serves web/ with) serves its pages."""

import json
import subprocess
import tarfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

import httpx
import pytest

from devsupport.infra import REPO_ROOT
from tests.compose.stack import APP_PORTS

pytestmark = pytest.mark.compose
SITE_IMAGE = "talent-network/site:latest"
IMAGES = [*(f"talent-network/{service}:latest" for service in APP_PORTS), SITE_IMAGE]
BUILD_TOOLS = {"uv", "uvx", "gcc", "cc", "c++", "make", "ld"}


def inspect(image: str) -> dict[str, Any]:
    result = subprocess.run(["docker", "image", "inspect", image], capture_output=True, check=True)
    inspected: dict[str, Any] = json.loads(result.stdout)[0]
    return inspected


@contextmanager
def exported_filesystem(image: str) -> Iterator[IO[bytes]]:
    """The image's whole file system as a tar stream (`docker export` of a created container)."""
    created = subprocess.run(
        ["docker", "create", image], capture_output=True, text=True, check=True
    )
    container = created.stdout.strip()
    export = subprocess.Popen(["docker", "export", container], stdout=subprocess.PIPE)
    try:
        assert export.stdout is not None
        yield export.stdout
    finally:
        export.kill()
        export.wait()
        subprocess.run(["docker", "rm", container], capture_output=True, check=True)


def file_names(image: str) -> list[str]:
    with exported_filesystem(image) as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
        return [member.name for member in tar]


@pytest.mark.parametrize("image", IMAGES)
def test_image_runs_as_a_non_root_user(image: str) -> None:
    user = inspect(image)["Config"]["User"]
    assert user.split(":")[0] not in {"", "root", "0"}


@pytest.mark.parametrize("image", IMAGES)
def test_image_holds_no_build_tool_and_no_ca_secret(image: str) -> None:
    names = file_names(image)
    executables = {name.rsplit("/", 1)[-1] for name in names if "/bin/" in name}
    assert not executables & BUILD_TOOLS
    assert not [name for name in names if "ca_bundle" in name or name.startswith("run/secrets/")]
    environment = " ".join(inspect(image)["Config"]["Env"])
    assert "ca_bundle" not in environment


@pytest.fixture(scope="module")
def site_url() -> Iterator[str]:
    """The site image run as Kubernetes runs it (read-only root, /tmp a tmpfs, no capability),
    in a container of its own with a unique name, removed afterwards."""
    name = f"talent-site-test-{uuid.uuid4().hex[:8]}"
    restricted = ["--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL"]
    restricted += ["--security-opt", "no-new-privileges"]
    # The namespace has a Service named jobs (the site proxies job views to it): nginx resolves
    # it at start. Nothing listens there; the pages do not need it.
    restricted += ["--add-host", "jobs:127.0.0.1"]
    run = ["docker", "run", "--detach", "--name", name, *restricted, "--publish", "127.0.0.1::8080"]
    subprocess.run([*run, SITE_IMAGE], capture_output=True, check=True)
    try:
        port = subprocess.run(
            ["docker", "port", name, "8080"], capture_output=True, text=True, check=True
        ).stdout.split()[0]
        url = f"http://{port}"
        deadline = time.monotonic() + 30
        while not _answers(f"{url}/healthz") and time.monotonic() < deadline:
            time.sleep(0.2)
        yield url
    finally:
        subprocess.run(["docker", "rm", "--force", name], capture_output=True, check=True)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.parametrize(
    ("path", "page"), [("/preferences", "preferences.html"), ("/favicon.ico", "favicon.ico")]
)
def test_site_image_serves_its_pages(site_url: str, path: str, page: str) -> None:
    response = httpx.get(f"{site_url}{path}")
    assert response.status_code == 200
    assert response.content == (REPO_ROOT / "web" / page).read_bytes()
