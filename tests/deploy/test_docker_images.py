"""The stand-in images and the image switch, checked offline (the compose test builds them)."""

import re
import socket
from pathlib import Path

import psutil
import pytest

from deploy.docker import images
from devsupport.infra import REPO_ROOT
from tests.support import containers

DOCKERFILE = (REPO_ROOT / "Dockerfile").read_text()
FINAL_STAGE = re.split(r"^FROM ", DOCKERFILE, flags=re.MULTILINE)[-1]


@pytest.mark.parametrize("stand_in", images.STAND_INS, ids=lambda s: s.variable)
def test_stand_in_is_never_tagged_with_an_official_name(stand_in: images.StandIn) -> None:
    assert stand_in.tag.startswith("talent-standin/")


@pytest.mark.parametrize("stand_in", images.STAND_INS, ids=lambda s: s.variable)
def test_stand_in_is_built_on_the_debootstrap_base(stand_in: images.StandIn) -> None:
    dockerfile = (images.HERE / stand_in.directory / "Dockerfile").read_text()
    assert "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n" in dockerfile


def test_every_stand_in_replaces_an_official_default_of_compose_or_the_dockerfile() -> None:
    defaults = images.official_defaults()
    assert {stand_in.variable for stand_in in images.STAND_INS} == set(defaults)
    assert not any(name.startswith("talent-standin/") for name in defaults.values())


def test_site_image_is_built_on_the_compose_gateways_nginx_image() -> None:
    site = (images.HERE / "site" / "Dockerfile").read_text()
    default = re.search(r"^ARG NGINX_IMAGE=(\S+)$", site, re.MULTILINE)
    assert default, "deploy/docker/site/Dockerfile has no ARG NGINX_IMAGE default"
    assert default.group(1) == images.official_defaults()["NGINX_IMAGE"]


def test_dockerfile_pulls_no_frontend_image() -> None:
    assert not re.search(r"^# ?syntax=", DOCKERFILE, re.MULTILINE)


def test_ca_bundle_is_a_build_secret_of_the_build_stage_only() -> None:
    assert "--mount=type=secret,id=ca_bundle" in DOCKERFILE
    assert "ca_bundle" not in FINAL_STAGE
    assert not re.search(r"^(COPY|ADD) .*(ca_bundle|\.crt|\.pem)", DOCKERFILE, re.MULTILINE)


def test_debian_mirror_comes_from_the_machines_apt_sources() -> None:
    mirror = images.debian_mirror()
    sources = [*Path("/etc/apt").glob("sources.list*"), *Path("/etc/apt").glob("*/*.sources")]
    assert any(mirror in path.read_text() for path in sources if path.is_file())


def test_fixture_image_is_the_variable_when_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_IMAGE", "registry.example.org/kafka:1")
    assert containers.compose_image("KAFKA_IMAGE") == "registry.example.org/kafka:1"


def test_fixture_image_is_compose_env_file_choice_else_compose_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("POSTGRES_IMAGE", raising=False)
    env_file = tmp_path / "compose.env"
    monkeypatch.setattr(containers, "COMPOSE_ENV_FILE", env_file)
    assert (
        containers.compose_image("POSTGRES_IMAGE") == images.official_defaults()["POSTGRES_IMAGE"]
    )
    env_file.write_text("POSTGRES_IMAGE=talent-standin/postgres:15\n")
    assert containers.compose_image("POSTGRES_IMAGE") == "talent-standin/postgres:15"


def test_unknown_test_infra_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_INFRA", "docker")
    with pytest.raises(pytest.UsageError, match="TEST_INFRA"):
        containers.enabled()


def test_a_port_whose_last_connection_waits_in_time_wait_is_free() -> None:
    """Right after `make down` the stopped services' ports hold TIME_WAIT connections: they
    must not move `make compose-up` off the usual ports."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)):
            accepted, _ = listener.accept()
            accepted.close()  # the side that closes first keeps the connection in TIME_WAIT
    assert _connections_in_time_wait(port), "the test made no TIME_WAIT connection"
    assert images.port_is_free(port)


def test_a_port_something_listens_on_is_taken() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        assert not images.port_is_free(listener.getsockname()[1])


def _connections_in_time_wait(port: int) -> bool:
    # laddr is (address, port), or () when a connection has none.
    return any(
        connection.status == psutil.CONN_TIME_WAIT and connection.laddr[1:] == (port,)
        for connection in psutil.net_connections("tcp4")
    )
