from typing import Annotated, ClassVar

from pydantic import BeforeValidator, Field, PositiveFloat
from pydantic_settings import NoDecode

from talent_shared.settings import ServiceSettings, own_database, own_http_port
from talent_signup.rate_limits import RateLimit, parse_rate_limit

# NoDecode: the environment's "20/minute" is text for parse_rate_limit, not JSON.
Rate = Annotated[RateLimit, NoDecode, BeforeValidator(parse_rate_limit)]

SEVEN_DAYS_SECONDS = 7 * 24 * 3600


class SignupSettings(ServiceSettings):
    service_name: ClassVar[str] = "signup"

    database_url: str = own_database(service_name)
    http_port: int = own_http_port(service_name, 8001)
    # The version of the consent wording shown on the sign-up form, recorded with each consent.
    consent_text_version: str = "2026-11"
    # POST /v1/signups per client address and per email address: N/second|minute|hour|day.
    signup_rate_per_ip: Rate = parse_rate_limit("20/minute")
    signup_rate_per_email: Rate = parse_rate_limit("5/hour")
    # A new sign-up stays pending until its confirmation link is followed (and POSTed).
    signup_double_opt_in: bool = False
    # A pending sign-up older than this is erased.
    signup_pending_max_age_seconds: float = Field(default=SEVEN_DAYS_SECONDS, gt=0)
    # How often a replica prunes old rate-limit windows and erases expired pending sign-ups.
    signup_housekeeping_seconds: PositiveFloat = 300.0
