from typing import ClassVar

from pydantic import Field

from talent_shared.settings import ServiceSettings, per_service


class NotificationsSettings(ServiceSettings):
    service_name: ClassVar[str] = "notifications"

    # NOTIFICATIONS_DATABASE_URL, else DATABASE_URL; NOTIFICATIONS_HTTP_PORT, else HTTP_PORT.
    database_url: str = Field(
        default="postgresql://talent:talent@127.0.0.1:5432/notifications",
        validation_alias=per_service(service_name, "database_url"),
    )
    http_port: int = Field(default=8003, validation_alias=per_service(service_name, "http_port"))
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    # Sending: transient failures (SMTP 4xx, timeouts, connection refused) are retried with
    # exponential backoff and jitter, up to this many attempts; 5xx fails at once.
    delivery_max_attempts: int = Field(default=8, ge=1)
    delivery_retry_base_seconds: float = Field(default=2.0, gt=0)
    delivery_retry_max_seconds: float = Field(default=600.0, gt=0)
    delivery_poll_seconds: float = Field(default=1.0, gt=0)
    # Deliveries leased at once; they are sent through SMTP_POOL_SIZE connections kept open.
    delivery_batch_size: int = Field(default=100, ge=1)
    # A connection sends one message per chain of round trips (MAIL, RCPT, DATA, the message):
    # 8 keep more of them in flight than 4 did (a burst of 1,000 sign-ups on 2 cores: 436 -> 467
    # emails/s, p99 854 -> 634 ms, six runs each), more so with a relay farther away.
    smtp_pool_size: int = Field(default=8, ge=1)
    # Digests: checked this often, sent from this hour (UTC) of the day (daily) or Monday (weekly).
    digest_check_seconds: float = Field(default=60.0, gt=0)
    digest_send_hour_utc: int = Field(default=8, ge=0, le=23)
    # The mailto of List-Unsubscribe; empty: unsubscribe@<domain of MAIL_FROM>.
    unsubscribe_mailto: str = ""
    max_jobs_per_email: int = Field(default=10, ge=1, le=10)
