from typing import ClassVar

from talent_shared.settings import ServiceSettings


class SignupSettings(ServiceSettings):
    service_name: ClassVar[str] = "signup"

    database_url: str = "postgresql://talent:talent@127.0.0.1:5432/signup"
    http_port: int = 8001
    # The version of the consent wording shown on the sign-up form, recorded with each consent.
    consent_text_version: str = "2026-11"
