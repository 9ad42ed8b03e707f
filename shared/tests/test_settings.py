"""One settings class per service: contract defaults, environment always wins."""

import subprocess
import sys

import pytest
from pydantic import ValidationError

from talent_jobs.settings import JobsSettings
from talent_notifications.settings import NotificationsSettings
from talent_shared.settings import DEVELOPMENT_ADMIN_TOKEN
from talent_signup.settings import SignupSettings

SERVICE_SETTINGS = (SignupSettings, JobsSettings, NotificationsSettings)
# What `make up` may set per service, and its plain fallback.
PER_SERVICE = ["DATABASE_URL", "HTTP_PORT"] + [
    f"{cls.service_name.upper()}_{name}"
    for cls in SERVICE_SETTINGS
    for name in ("DATABASE_URL", "HTTP_PORT")
]


@pytest.fixture(autouse=True)
def _no_per_service_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The caller's own stack (SIGNUP_HTTP_PORT=18001 ...) must not decide these tests."""
    for name in PER_SERVICE:
        monkeypatch.delenv(name, raising=False)


def test_contract_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KAFKA_BOOTSTRAP_SERVERS", "SMTP_HOST", "SMTP_PORT"):
        monkeypatch.delenv(name, raising=False)
    settings = JobsSettings()
    assert settings.kafka_bootstrap_servers == ["127.0.0.1:9092"]
    assert settings.smtp_host == "127.0.0.1"
    assert settings.smtp_port == 1025
    assert settings.database_url.endswith("@127.0.0.1:5432/jobs")


@pytest.mark.parametrize(
    ("settings_class", "port", "database"),
    [
        (SignupSettings, 8001, "signup"),
        (JobsSettings, 8002, "jobs"),
        (NotificationsSettings, 8003, "notifications"),
    ],
)
def test_each_service_has_its_port_and_database(
    monkeypatch: pytest.MonkeyPatch, settings_class: type[JobsSettings], port: int, database: str
) -> None:
    settings = settings_class()
    assert settings.http_port == port
    assert settings.database_url.endswith(f"/{database}")


def test_environment_wins_over_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka:29092")
    monkeypatch.setenv("HTTP_PORT", "9999")
    monkeypatch.setenv("SMTP_STARTTLS", "true")
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    settings = JobsSettings()
    assert settings.kafka_bootstrap_servers == ["kafka:29092"]
    assert settings.http_port == 9999
    assert settings.smtp_starttls is True
    assert settings.log_level == "DEBUG"


def test_a_service_reads_its_own_port_and_database_before_the_common_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTP_PORT", "9999")
    monkeypatch.setenv("DATABASE_URL", "postgresql://common/talent")
    monkeypatch.setenv("JOBS_HTTP_PORT", "18002")
    monkeypatch.setenv("JOBS_DATABASE_URL", "postgresql://own/jobs")
    jobs, signup = JobsSettings(), SignupSettings()
    assert (jobs.http_port, jobs.database_url) == (18002, "postgresql://own/jobs")
    assert (signup.http_port, signup.database_url) == (9999, "postgresql://common/talent")


def test_a_port_given_by_name_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBS_HTTP_PORT", "18002")
    assert JobsSettings(http_port=7).http_port == 7


def test_production_without_secrets_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.delenv("ADMIN_API_TOKEN", raising=False)
    monkeypatch.delenv("TOKEN_SECRET", raising=False)
    with pytest.raises(ValidationError, match="ADMIN_API_TOKEN"):
        JobsSettings()


STRONG_TOKEN = "k3y-" + "a" * 40
STRONG_SECRET = "s3cret-" + "b" * 40


def test_production_with_strong_secrets_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("ADMIN_API_TOKEN", STRONG_TOKEN)
    monkeypatch.setenv("TOKEN_SECRET", STRONG_SECRET)
    assert JobsSettings().admin_api_token.get_secret_value() == STRONG_TOKEN


@pytest.mark.parametrize(
    ("token", "secret", "named"),
    [
        ("", STRONG_SECRET, "ADMIN_API_TOKEN"),
        ("x", STRONG_SECRET, "ADMIN_API_TOKEN"),
        (STRONG_TOKEN, "y" * 31, "TOKEN_SECRET"),
        (STRONG_TOKEN, STRONG_TOKEN, "must differ"),
        (DEVELOPMENT_ADMIN_TOKEN, STRONG_SECRET, "ADMIN_API_TOKEN"),
    ],
    ids=["empty", "one-letter", "31-characters", "the-same-twice", "development-default"],
)
def test_production_refuses_a_weak_secret_naming_it_not_its_value(
    monkeypatch: pytest.MonkeyPatch, token: str, secret: str, named: str
) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("ADMIN_API_TOKEN", token)
    monkeypatch.setenv("TOKEN_SECRET", secret)
    with pytest.raises(ValidationError, match=named) as refused:
        JobsSettings()
    for value in {token, secret} - {""}:
        assert value not in str(refused.value)


def test_consumer_groups_are_named_per_service_with_prefix() -> None:
    settings = JobsSettings(kafka_consumer_group_prefix="ci.")
    assert settings.consumer_group("projector") == "ci.jobs.projector"


def test_bootstrap_servers_list_names_each_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19091,127.0.0.1:19092, kafka-3.internal:19093"
    )
    assert JobsSettings().kafka_bootstrap_servers == [
        "127.0.0.1:19091",
        "127.0.0.1:19092",
        "kafka-3.internal:19093",
    ]


def test_bootstrap_server_may_be_a_bracketed_ipv6_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "[::1]:9092,[fd00::2]:9092")
    assert JobsSettings().kafka_bootstrap_servers == ["[::1]:9092", "[fd00::2]:9092"]


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        ("", "is empty"),
        ("127.0.0.1:19091,,127.0.0.1:19093", "empty entry"),
        ("127.0.0.1:19091,", "empty entry"),
        ("127.0.0.1", "'127.0.0.1' is not host:port"),
        ("kafka:ninety", "'kafka:ninety' is not host:port"),
        ("127.0.0.1:19091;127.0.0.1:19092", "is not host:port"),
        ("kafka 1:9092", "is not host:port"),
        ("kafka:0", "no valid port"),
        ("kafka:70000", "no valid port"),
        ("::1:9092", "is not host:port"),
    ],
)
def test_malformed_bootstrap_servers_are_rejected_with_the_entry_named(
    monkeypatch: pytest.MonkeyPatch, value: str, complaint: str
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", value)
    with pytest.raises(ValidationError, match=complaint):
        JobsSettings()


def test_service_with_malformed_bootstrap_servers_stops_at_start_saying_why() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "talent_jobs", "serve"],
        env={"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:19091;127.0.0.1:19092", "HTTP_PORT": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "KAFKA_BOOTSTRAP_SERVERS entry '127.0.0.1:19091;127.0.0.1:19092'" in result.stderr


def test_empty_smtp_login_means_no_login(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_USERNAME", "")
    monkeypatch.setenv("SMTP_PASSWORD", "")
    settings = NotificationsSettings()
    assert settings.smtp_username is None
    assert settings.smtp_password is None
