"""One pydantic-settings base for every service: the contract's environment variables and defaults.

Each service subclasses :class:`ServiceSettings` once, overriding its database and port defaults.
A value set in the environment always wins over a default.
"""

import ipaddress
import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AliasChoices,
    Field,
    PositiveFloat,
    PositiveInt,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEVELOPMENT_ADMIN_TOKEN = "dev-admin-token"
DEVELOPMENT_TOKEN_SECRET = "dev-token-secret-change-me"
MIN_SECRET_LENGTH = 32

# host:port, where host is a DNS name, an IPv4 address or a bracketed IPv6 address.
_BROKER_ADDRESS = re.compile(
    r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?):(\d{1,5})$"
)


def parse_bootstrap_servers(value: str | list[str]) -> list[str]:
    """``"a:9092,b:9092"`` (the usual way to name a cluster) -> ``["a:9092", "b:9092"]``.

    A malformed list fails here, at start, instead of reaching the Kafka client as one address.
    """
    entries = value.split(",") if isinstance(value, str) else list(value)
    addresses = [entry.strip() for entry in entries]
    if not any(addresses):
        raise ValueError("KAFKA_BOOTSTRAP_SERVERS is empty: expected host:port[,host:port...]")
    if "" in addresses:
        raise ValueError(f"KAFKA_BOOTSTRAP_SERVERS {value!r} has an empty entry between commas")
    for address in addresses:
        match = _BROKER_ADDRESS.match(address)
        if match is None:
            raise ValueError(
                f"KAFKA_BOOTSTRAP_SERVERS entry {address!r} is not host:port "
                "(expected a comma-separated list such as kafka-1:9092,kafka-2:9092)"
            )
        if not 1 <= int(match.group(1)) <= 65535:
            raise ValueError(
                f"KAFKA_BOOTSTRAP_SERVERS entry {address!r} has no valid port (1-65535)"
            )
    return addresses


def per_service(service: str, setting: str) -> AliasChoices:
    """Where a setting that differs per service is read: ``<SERVICE>_<SETTING>``, else
    ``<SETTING>`` (as a field's ``validation_alias``). `make up` starts the three services from
    one environment, where SIGNUP_HTTP_PORT and JOBS_HTTP_PORT say what HTTP_PORT cannot."""
    return AliasChoices(f"{service}_{setting}", setting)


def own_database(service: str) -> Any:
    """A service's ``database_url`` field: ``<SERVICE>_DATABASE_URL``, else ``DATABASE_URL``;
    by default the database named after the service on the local PostgreSQL."""
    return Field(
        default=f"postgresql://talent:talent@127.0.0.1:5432/{service}",
        validation_alias=per_service(service, "database_url"),
    )


def own_http_port(service: str, default: int) -> Any:
    """A service's ``http_port`` field: ``<SERVICE>_HTTP_PORT``, else ``HTTP_PORT``."""
    return Field(default=default, validation_alias=per_service(service, "http_port"))


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False, frozen=True)

    service_name: ClassVar[str] = "talent"

    environment: Literal["development", "production"] = "development"
    # The environment gives a comma-separated string; NoDecode keeps pydantic-settings from
    # reading it as JSON, and the validator below splits and checks it.
    kafka_bootstrap_servers: Annotated[list[str], NoDecode] = ["127.0.0.1:9092"]
    # Prefixed to every consumer group id, so a test run never shares a group with a running stack.
    kafka_consumer_group_prefix: str = ""
    # Where a new consumer group starts: "earliest" (every retained event) unless told otherwise.
    kafka_auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    kafka_topic_partitions: PositiveInt = 3
    kafka_replication_factor: PositiveInt = 1
    kafka_publish_timeout_seconds: PositiveFloat = 5.0
    database_url: str = "postgresql://talent:talent@127.0.0.1:5432/talent"
    database_pool_max_size: PositiveInt = 10
    migrate_on_start: bool = True
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    mail_from: str = "Talent Network <talent-network@careers.example.org>"
    public_base_url: str = "http://127.0.0.1:8080"  # the local gateway (make up)
    admin_api_token: SecretStr = SecretStr(DEVELOPMENT_ADMIN_TOKEN)
    token_secret: SecretStr = SecretStr(DEVELOPMENT_TOKEN_SECRET)
    http_host: str = "0.0.0.0"
    http_port: int = 8000
    # uvicorn worker processes, each a whole service (pool, broker, consumers, relay); see README.
    http_workers: PositiveInt = 1
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Tracing is on when an OTLP/HTTP endpoint is set (spans go to <endpoint>/v1/traces).
    otel_exporter_otlp_endpoint: str | None = None
    otel_service_name: str | None = None  # defaults to the service name
    # Seconds a stopping service waits for in-flight handlers; below the platform's grace period.
    graceful_timeout_seconds: PositiveFloat = 15.0
    # Origins (scheme://host[:port]) whose pages may call the public endpoints; comma-separated.
    cors_allowed_origins: Annotated[tuple[str, ...], NoDecode] = ()
    # The gateways (IPs or CIDRs, comma-separated) whose X-Forwarded-For names the client; a
    # request from any other peer is its own client, whatever it claims. Locally: the gateway.
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = ("127.0.0.1", "::1")

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxies_from_comma_list(cls, value: object) -> object:
        entries = value.split(",") if isinstance(value, str) else value
        if not isinstance(entries, list | tuple):
            return value
        proxies = tuple(str(entry).strip() for entry in entries if str(entry).strip())
        for proxy in proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError as error:
                raise ValueError(
                    f"TRUSTED_PROXIES entry {proxy!r} is not an IP address or CIDR network"
                ) from error
        return proxies

    @field_validator("cors_allowed_origins", mode="before")
    @classmethod
    def _origins_from_comma_list(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        origins = [origin.strip().rstrip("/") for origin in value.split(",") if origin.strip()]
        # What a browser sends in Origin: scheme://host[:port], nothing after it.
        invalid = [o for o in origins if not re.fullmatch(r"https?://[^/?#\s:]+(:\d{1,5})?", o)]
        if invalid:
            raise ValueError(
                f"CORS_ALLOWED_ORIGINS takes scheme://host[:port] origins, not {invalid}"
            )
        # Browsers send the scheme and host in lower case; a listed origin matches exactly.
        return tuple(origin.lower() for origin in origins)

    @field_validator("smtp_username", "smtp_password", mode="before")
    @classmethod
    def _empty_smtp_login_is_none(cls, value: object) -> object:
        # Compose passes `SMTP_USERNAME=${SMTP_USERNAME:-}`: empty means "no login", not AUTH
        # with an empty name (which a server without AUTH refuses).
        return None if value == "" else value

    @field_validator("kafka_bootstrap_servers", mode="before")
    @classmethod
    def _bootstrap_servers_are_a_list(cls, value: str | list[str]) -> list[str]:
        return parse_bootstrap_servers(value)

    @model_validator(mode="after")
    def _secrets_are_strong_outside_development(self) -> "ServiceSettings":
        """In production each secret is long, differs from the other and from the development
        defaults; the error names the setting, never its value."""
        if self.environment == "development":
            return self
        secrets = {
            "ADMIN_API_TOKEN": self.admin_api_token.get_secret_value(),
            "TOKEN_SECRET": self.token_secret.get_secret_value(),
        }
        development = {DEVELOPMENT_ADMIN_TOKEN, DEVELOPMENT_TOKEN_SECRET}
        problems = [
            f"{name} must be at least {MIN_SECRET_LENGTH} characters and not a development default"
            for name, value in secrets.items()
            if len(value) < MIN_SECRET_LENGTH or value in development
        ]
        if len(set(secrets.values())) < len(secrets):
            problems.append("ADMIN_API_TOKEN and TOKEN_SECRET must differ")
        if problems:
            raise ValueError(f"with ENVIRONMENT={self.environment}: " + "; ".join(problems))
        return self

    def consumer_group(self, name: str) -> str:
        return f"{self.kafka_consumer_group_prefix}{self.service_name}.{name}"
