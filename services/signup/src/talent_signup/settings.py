from typing import ClassVar

from talent_shared.settings import ServiceSettings


class SignupSettings(ServiceSettings):
    service_name: ClassVar[str] = "signup"

    database_url: str = "postgresql://talent:talent@127.0.0.1:5432/signup"
    http_port: int = 8001
