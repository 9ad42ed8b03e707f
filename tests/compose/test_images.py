"""The project's images, as `make compose-up` built them: non-root, no build tools, no CA secret."""

import json
import subprocess
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

import pytest

from tests.compose.stack import APP_PORTS

pytestmark = pytest.mark.compose
IMAGES = [f"talent-network/{service}:latest" for service in APP_PORTS]
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
