"""One pydantic-settings base for every service: the contract's environment variables and defaults.

Each service subclasses :class:`ServiceSettings` once, overriding its database and port defaults.
A value set in the environment always wins over a default.
"""

from typing import ClassVar, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_ADMIN_TOKEN = "dev-admin-token"
DEVELOPMENT_TOKEN_SECRET = "dev-token-secret-change-me"


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False, frozen=True)

    service_name: ClassVar[str] = "talent"

    environment: Literal["development", "production"] = "development"
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    # Prefixed to every consumer group id, so a test run never shares a group with a running stack.
    kafka_consumer_group_prefix: str = ""
    # Where a new consumer group starts: "earliest" (every retained event) unless told otherwise.
    kafka_auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    kafka_topic_partitions: int = Field(default=3, ge=1)
    kafka_replication_factor: int = Field(default=1, ge=1)
    kafka_publish_timeout_seconds: float = Field(default=5.0, gt=0)
    database_url: str = "postgresql://talent:talent@127.0.0.1:5432/talent"
    database_pool_max_size: int = Field(default=10, ge=1)
    migrate_on_start: bool = True
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    mail_from: str = "Talent Network <talent-network@careers.example.org>"
    public_base_url: str = "http://127.0.0.1:8001"
    admin_api_token: SecretStr = SecretStr(DEVELOPMENT_ADMIN_TOKEN)
    token_secret: SecretStr = SecretStr(DEVELOPMENT_TOKEN_SECRET)
    http_host: str = "0.0.0.0"
    http_port: int = 8000
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Seconds a stopping service waits for in-flight handlers; below the platform's grace period.
    graceful_timeout_seconds: float = Field(default=15.0, gt=0)

    @model_validator(mode="after")
    def _secrets_are_set_outside_development(self) -> "ServiceSettings":
        if self.environment == "development":
            return self
        defaults = {
            "ADMIN_API_TOKEN": (self.admin_api_token, DEVELOPMENT_ADMIN_TOKEN),
            "TOKEN_SECRET": (self.token_secret, DEVELOPMENT_TOKEN_SECRET),
        }
        missing = [
            name for name, (value, dev) in defaults.items() if value.get_secret_value() == dev
        ]
        if missing:
            raise ValueError(
                f"{', '.join(missing)} must be set when ENVIRONMENT={self.environment}"
            )
        return self

    def consumer_group(self, name: str) -> str:
        return f"{self.kafka_consumer_group_prefix}{self.service_name}.{name}"
