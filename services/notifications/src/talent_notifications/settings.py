from typing import ClassVar

from talent_shared.settings import ServiceSettings


class NotificationsSettings(ServiceSettings):
    service_name: ClassVar[str] = "notifications"

    database_url: str = "postgresql://talent:talent@127.0.0.1:5432/notifications"
    http_port: int = 8003
