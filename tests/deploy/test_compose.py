"""docker-compose.yml, validated offline (no Docker engine here): the compose-spec JSON schema,
and the services, ports, health checks and variables of the contract."""

import re
from typing import Any

import jsonschema
import pytest
import yaml

from devsupport.infra import REPO_ROOT

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
SCHEMA_FILE = REPO_ROOT / ".local" / "tools" / "compose-spec.json"
APP_SERVICES = {"signup": 8001, "jobs": 8002, "notifications": 8003}
CONTRACT_VARIABLES = {
    "KAFKA_BOOTSTRAP_SERVERS",
    "DATABASE_URL",
    "SMTP_HOST",
    "SMTP_PORT",
    "SMTP_USERNAME",
    "SMTP_PASSWORD",
    "SMTP_STARTTLS",
    "MAIL_FROM",
    "PUBLIC_BASE_URL",
    "ADMIN_API_TOKEN",
    "TOKEN_SECRET",
    "HTTP_PORT",
    "LOG_LEVEL",
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = compose["services"]
    return result


def test_compose_file_passes_the_compose_spec_schema(compose: dict[str, Any]) -> None:
    if not SCHEMA_FILE.exists():
        pytest.fail("compose-spec schema missing: run `make test` (`python -m deploy.local tools`)")
    schema = yaml.safe_load(SCHEMA_FILE.read_text())
    jsonschema.validate(compose, schema)


def test_stack_has_kafka_postgres_mailpit_and_the_services(services: dict[str, Any]) -> None:
    expected = {"kafka", "postgres", "mailpit", "gateway", *APP_SERVICES}
    expected |= {f"{name}-migrate" for name in APP_SERVICES}
    assert set(services) == expected


def test_kafka_image_defaults_to_the_official_image_of_the_local_runners_version(
    services: dict[str, Any],
) -> None:
    pom = (REPO_ROOT / "deploy" / "local" / "kafka" / "pom.xml").read_text()
    match = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", pom)
    assert match is not None
    assert services["kafka"]["image"] == f"${{KAFKA_IMAGE:-apache/kafka:{match.group(1)}}}"


def test_postgres_image_defaults_to_the_official_image_of_a_major_version(
    services: dict[str, Any],
) -> None:
    assert re.fullmatch(
        r"\$\{POSTGRES_IMAGE:-postgres:\d+(\.\d+)?\}", services["postgres"]["image"]
    )


@pytest.mark.parametrize("name", APP_SERVICES)
def test_service_build_uses_the_dockerfiles_python_image_by_default(
    services: dict[str, Any], name: str
) -> None:
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    match = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", dockerfile, re.MULTILINE)
    assert match is not None
    build = services[f"{name}-migrate"]["build"]
    assert build["args"]["PYTHON_IMAGE"] == f"${{PYTHON_IMAGE:-{match.group(1)}}}"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_service_build_takes_the_ca_bundle_as_a_secret_that_defaults_to_empty(
    compose: dict[str, Any], name: str
) -> None:
    assert compose["services"][name]["build"]["secrets"] == ["ca_bundle"]
    assert compose["secrets"]["ca_bundle"]["file"] == "${CA_BUNDLE:-/dev/null}"


def test_postgres_init_script_creates_the_three_databases(services: dict[str, Any]) -> None:
    [mount] = [v for v in services["postgres"]["volumes"] if "initdb" in v]
    script = (REPO_ROOT / mount.split(":")[0]).read_text()
    for database in APP_SERVICES:
        assert f"CREATE DATABASE {database};" in script


def test_gateway_serves_the_rendered_route_table_and_the_site_read_only(
    services: dict[str, Any],
) -> None:
    gateway = services["gateway"]
    assert gateway["image"].startswith("${NGINX_IMAGE:-nginx:")
    assert gateway["ports"] == ["${GATEWAY_HOST_PORT:-8080}:8080"]
    assert set(gateway["volumes"]) == {
        "./deploy/gateway/nginx.compose.conf:/etc/nginx/templates/default.conf.template:ro",
        "./web:/usr/share/nginx/html:ro",
    }
    for name in APP_SERVICES:
        assert gateway["depends_on"][name]["condition"] == "service_healthy"


def test_only_the_gateway_is_trusted_to_name_the_client(services: dict[str, Any]) -> None:
    address = services["gateway"]["networks"]["default"]["ipv4_address"]
    assert address == "${GATEWAY_ADDRESS:-172.30.89.10}"
    for name in APP_SERVICES:
        assert services[name]["environment"]["TRUSTED_PROXIES"] == address


def test_the_gateway_limits_job_views_per_client(services: dict[str, Any]) -> None:
    assert (
        services["gateway"]["environment"]["INGEST_RATE_PER_IP"] == "${INGEST_RATE_PER_IP:-20r/s}"
    )


def test_mailpit_serves_smtp_and_its_web_ui(services: dict[str, Any]) -> None:
    assert services["mailpit"]["image"].startswith("${MAIL_IMAGE:-axllent/mailpit:")
    ports = {"${SMTP_HOST_PORT:-1025}:1025", "${MAIL_UI_HOST_PORT:-8025}:8025"}
    assert ports <= set(services["mailpit"]["ports"])


@pytest.mark.parametrize("name", ["kafka", "postgres", "mailpit", "gateway", *APP_SERVICES])
def test_long_running_services_have_a_health_check(services: dict[str, Any], name: str) -> None:
    assert services[name]["healthcheck"]["test"]


@pytest.mark.parametrize(("name", "port"), APP_SERVICES.items())
def test_service_publishes_its_contract_port_by_default(
    services: dict[str, Any], name: str, port: int
) -> None:
    assert services[name]["ports"] == [f"${{{name.upper()}_HOST_PORT:-{port}}}:{port}"]
    assert str(services[name]["environment"]["HTTP_PORT"]) == str(port)


@pytest.mark.parametrize("name", APP_SERVICES)
def test_service_waits_for_healthy_infrastructure_and_its_migrations(
    services: dict[str, Any], name: str
) -> None:
    depends = services[name]["depends_on"]
    for dependency in ("kafka", "postgres", "mailpit"):
        assert depends[dependency]["condition"] == "service_healthy"
    assert depends[f"{name}-migrate"]["condition"] == "service_completed_successfully"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_migration_step_runs_once_with_the_service_image(
    services: dict[str, Any], name: str
) -> None:
    migrate = services[f"{name}-migrate"]
    assert migrate["command"] == ["migrate"]
    assert migrate["restart"] == "no"
    assert migrate["image"] == services[name]["image"]
    assert migrate["build"]["args"]["SERVICE"] == name


@pytest.mark.parametrize("name", APP_SERVICES)
def test_service_gets_every_contract_variable(services: dict[str, Any], name: str) -> None:
    assert set(services[name]["environment"]) >= CONTRACT_VARIABLES


@pytest.mark.parametrize("name", APP_SERVICES)
def test_database_url_defaults_to_the_services_own_database(
    services: dict[str, Any], name: str
) -> None:
    url = services[name]["environment"]["DATABASE_URL"]
    assert url.startswith(f"${{{name.upper()}_DATABASE_URL:-")
    assert url.endswith(f"@postgres:5432/{name}}}")


@pytest.mark.parametrize("secret", ["ADMIN_API_TOKEN", "TOKEN_SECRET", "POSTGRES_PASSWORD"])
def test_secrets_must_be_set_by_the_operator(secret: str) -> None:
    assert f"${{{secret}:?" in COMPOSE_FILE.read_text()


def test_settings_with_defaults_use_the_default_syntax(services: dict[str, Any]) -> None:
    environment = services["jobs"]["environment"]
    for name in ("KAFKA_BOOTSTRAP_SERVERS", "SMTP_HOST", "SMTP_PORT", "LOG_LEVEL"):
        assert environment[name].startswith(f"${{{name}:-"), name


def test_data_lives_in_named_volumes(compose: dict[str, Any]) -> None:
    assert set(compose["volumes"]) == {"kafka-data", "postgres-data"}


def test_stop_grace_period_exceeds_the_graceful_timeout(services: dict[str, Any]) -> None:
    for name in APP_SERVICES:
        assert int(services[name]["stop_grace_period"].rstrip("s")) > 15
