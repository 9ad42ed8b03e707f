from pathlib import Path
from typing import ClassVar

from pydantic import Field, PositiveFloat, PositiveInt, model_validator

from talent_shared.settings import ServiceSettings, own_database, own_http_port


class NotificationsSettings(ServiceSettings):
    service_name: ClassVar[str] = "notifications"

    database_url: str = own_database(service_name)
    http_port: int = own_http_port(service_name, 8003)
    smtp_timeout_seconds: PositiveFloat = 10.0
    # Sending: transient failures (SMTP 4xx, timeouts, connection refused) are retried with
    # exponential backoff and jitter, up to this many attempts; 5xx fails at once.
    delivery_max_attempts: PositiveInt = 8
    delivery_retry_base_seconds: PositiveFloat = 2.0
    delivery_retry_max_seconds: PositiveFloat = 600.0
    delivery_poll_seconds: PositiveFloat = 1.0
    # Deliveries leased at once; they are sent through SMTP_POOL_SIZE connections kept open.
    delivery_batch_size: PositiveInt = 100
    # A connection sends one message per chain of round trips (MAIL, RCPT, DATA, the message):
    # 8 keep more of them in flight than 4 did (a burst of 1,000 sign-ups on 2 cores: 436 -> 467
    # emails/s, p99 854 -> 634 ms, six runs each), more so with a relay farther away.
    smtp_pool_size: PositiveInt = 8
    # Digests: checked this often, sent from this hour (UTC) of the day (daily) or Monday (weekly).
    digest_check_seconds: PositiveFloat = 60.0
    digest_send_hour_utc: int = Field(default=8, ge=0, le=23)
    # The mailto of List-Unsubscribe; empty: unsubscribe@<domain of MAIL_FROM>.
    unsubscribe_mailto: str = ""
    max_jobs_per_email: int = Field(default=10, ge=1, le=10)
    # How long a delivery stays leased to the worker that took it; past it, another may send it.
    # None: three SMTP timeouts and 30 s, past any send.
    delivery_lease_seconds: float | None = Field(default=None, gt=0)
    # Coalesced instant alerts: the first unsent match opens a window this long; every match
    # before it closes goes in the same alert. At most this many alert emails a day per
    # candidate (UTC); the windows are checked this often.
    alert_window_seconds: float = Field(default=300.0, ge=0)
    alert_daily_cap: PositiveInt = 3
    alert_check_seconds: PositiveFloat = 5.0
    # The envelope sender of every email, made per delivery (VERP): bounces+<delivery id>@...
    # Empty: the address of MAIL_FROM.
    bounce_address: str = ""
    # DKIM signing, on when all three are set.
    dkim_private_key_file: Path | None = None
    dkim_domain: str = ""
    dkim_selector: str = ""

    @model_validator(mode="after")
    def _dkim_is_all_or_nothing(self) -> "NotificationsSettings":
        given = [bool(self.dkim_private_key_file), bool(self.dkim_domain), bool(self.dkim_selector)]
        if any(given) and not all(given):
            raise ValueError(
                "DKIM_PRIVATE_KEY_FILE, DKIM_DOMAIN and DKIM_SELECTOR go together, or none"
            )
        if self.bounce_address and "@" not in self.bounce_address:
            raise ValueError(
                "BOUNCE_ADDRESS must be an address, such as bounces@careers.example.org"
            )
        return self

    def lease_seconds(self) -> float:
        """How long a claimed delivery stays out of other workers' reach."""
        if self.delivery_lease_seconds is not None:
            return self.delivery_lease_seconds
        return self.smtp_timeout_seconds * 3 + 30
