"""The local runner (deploy/local), checked without starting anything: where each part listens,
and what each service is told, from the settings classes and the environment."""

import dataclasses
import hashlib
import re
from pathlib import Path

import pytest

from deploy.local.config import Config, RunnerError, host_port, reachable_address
from deploy.local.gateway import Gateway
from deploy.local.kafka_broker import Kafka
from deploy.local.postgres import AppDatabases
from deploy.local.postgres_cluster import ServerUser, outside_directory
from deploy.local.services import SERVICE_SETTINGS, Service, with_server
from talent_jobs.settings import JobsSettings

# Everything the runner or a service reads that the caller's own stack may have set.
STACK_VARIABLES = [
    "BIND_HOST", "GATEWAY_PORT", "HTTP_HOST", "HTTP_PORT", "DATABASE_URL",
    "KAFKA_BOOTSTRAP_SERVERS", "SMTP_HOST", "SMTP_PORT", "PUBLIC_BASE_URL",
    "INFRA_KAFKA_PORT", "INFRA_KAFKA_CONTROLLER_PORT", "INFRA_POSTGRES_PORT", "INFRA_SMTP_PORT",
    *(f"{name.upper()}_HTTP_PORT" for name in SERVICE_SETTINGS),
    *(f"{name.upper()}_DATABASE_URL" for name in SERVICE_SETTINGS),
]  # fmt: skip


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in STACK_VARIABLES:
        monkeypatch.delenv(variable, raising=False)


def config(tmp_path: Path | None = None) -> Config:
    read = Config.from_environment()
    return dataclasses.replace(read, root=tmp_path) if tmp_path else read


def test_by_default_everything_listens_on_loopback_on_the_contracts_ports() -> None:
    local = config()
    assert (local.bind_host, local.host) == ("127.0.0.1", "127.0.0.1")
    assert local.kafka_bootstrap == "127.0.0.1:9092"
    assert (local.postgres_port, local.smtp_port, local.gateway_url) == (
        5432,
        1025,
        "http://127.0.0.1:8080",
    )


@pytest.mark.parametrize("value", ["ninety", "0", "65536", "-1"])
def test_a_port_that_is_no_tcp_port_stops_the_runner_naming_it(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("INFRA_KAFKA_PORT", value)
    with pytest.raises(RunnerError, match=f"INFRA_KAFKA_PORT={value} is not a TCP port"):
        config()


def test_bind_host_must_be_an_ip_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIND_HOST", "all-interfaces")
    with pytest.raises(RunnerError, match="BIND_HOST=all-interfaces is not an IP address"):
        config()


@pytest.mark.parametrize(
    ("bound", "reached"),
    [("127.0.0.1", "127.0.0.1"), ("0.0.0.0", "127.0.0.1"), ("::", "::1"), ("10.1.2.3", "10.1.2.3")],
)
def test_a_wildcard_is_reached_on_loopback(bound: str, reached: str) -> None:
    assert reachable_address(bound) == reached


def test_an_ipv6_address_takes_brackets_before_its_port() -> None:
    assert (host_port("::1", 9092), host_port("127.0.0.1", 9092)) == (
        "[::1]:9092",
        "127.0.0.1:9092",
    )


def test_each_service_gets_its_own_database_on_the_runners_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INFRA_POSTGRES_PORT", "15432")
    for name in SERVICE_SETTINGS:
        told = Service(name, config()).environment()
        assert told["DATABASE_URL"] == f"postgresql://talent:talent@127.0.0.1:15432/{name}"


def test_the_services_follow_the_runners_kafka_mail_sink_gateway_and_bind_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for variable, value in {
        "INFRA_KAFKA_PORT": "19092",
        "INFRA_SMTP_PORT": "11025",
        "GATEWAY_PORT": "18080",
        "BIND_HOST": "0.0.0.0",
    }.items():
        monkeypatch.setenv(variable, value)
    told = Service("notifications", config()).environment()
    assert told["KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:19092"
    assert (told["SMTP_HOST"], told["SMTP_PORT"]) == ("127.0.0.1", "11025")
    assert told["PUBLIC_BASE_URL"] == "http://127.0.0.1:18080"
    assert told["HTTP_HOST"] == "0.0.0.0"


def test_a_setting_the_environment_gives_is_left_to_the_service(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JOBS_DATABASE_URL", "postgresql://jobs@db.example.org/jobs")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092")
    monkeypatch.setenv("HTTP_HOST", "127.0.0.2")
    told = Service("jobs", config()).environment()
    assert "DATABASE_URL" not in told
    assert (told["KAFKA_BOOTSTRAP_SERVERS"], told["HTTP_HOST"]) == ("kafka-1:9092", "127.0.0.2")
    for variable, value in told.items():
        monkeypatch.setenv(variable, value)
    assert JobsSettings().database_url == "postgresql://jobs@db.example.org/jobs"


def test_a_services_url_is_its_own_port_else_http_port_else_its_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTP_PORT", "9000")
    monkeypatch.setenv("JOBS_HTTP_PORT", "18002")
    urls = {name: Service(name, config()).url for name in SERVICE_SETTINGS}
    assert urls["jobs"] == "http://127.0.0.1:18002"
    assert (
        urls["signup"] == urls["notifications"].replace("9000", "9000") == "http://127.0.0.1:9000"
    )
    monkeypatch.delenv("HTTP_PORT")
    assert Service("signup", config()).url == "http://127.0.0.1:8001"


def test_moving_a_database_url_to_another_server_keeps_its_login_and_database() -> None:
    moved = with_server("postgresql://talent:talent@127.0.0.1:5432/jobs", "::1", 15432)
    assert moved == "postgresql://talent:talent@[::1]:15432/jobs"


def test_the_runner_makes_the_role_and_databases_of_the_settings_classes() -> None:
    wanted = AppDatabases.from_settings()
    assert (wanted.role, wanted.names) == ("talent", ["signup", "jobs", "notifications"])


def test_the_gateway_listens_on_the_bind_host_and_reaches_the_services_there(
    tmp_path: Path,
) -> None:
    ports = {"signup": 18001, "jobs": 18002, "notifications": 18003}
    loopback = Gateway(18080, tmp_path, ports).render().read_text()
    assert "listen 127.0.0.1:18080;" in loopback
    everywhere = Gateway(18080, tmp_path, ports, host="0.0.0.0").render().read_text()
    assert "listen 0.0.0.0:18080;" in everywhere
    assert "server 127.0.0.1:18002;" in everywhere


def test_kafka_listens_on_the_bind_host_and_advertises_where_it_is_reached(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BIND_HOST", "0.0.0.0")
    monkeypatch.setenv("INFRA_KAFKA_PORT", "19092")
    monkeypatch.setenv("INFRA_KAFKA_CONTROLLER_PORT", "19093")
    broker = Kafka(config(tmp_path))
    broker.directory.mkdir(parents=True)
    properties = broker.render_properties().read_text()
    assert "listeners=PLAINTEXT://0.0.0.0:19092,CONTROLLER://0.0.0.0:19093\n" in properties
    assert "advertised.listeners=PLAINTEXT://127.0.0.1:19092\n" in properties
    assert "controller.quorum.voters=1@127.0.0.1:19093\n" in properties
    assert re.search(r"@[A-Z_]+@", properties) is None  # no placeholder left


def test_a_private_checkouts_cluster_goes_to_one_folder_per_checkout(tmp_path: Path) -> None:
    postgres = ServerUser("postgres", 101, 104, Path("/var/lib/postgresql"), ())
    checkout = tmp_path / "a-checkout-with-a-name-longer-than-24"
    digest = hashlib.sha256(str(checkout.resolve()).encode()).hexdigest()[:12]
    assert outside_directory(checkout, postgres) == Path(
        f"/var/lib/postgresql/talent-network/a-checkout-with-a-name-l-{digest}"
    )
