from typing import ClassVar

from talent_notifications import handlers
from talent_shared.runtime import Runtime


class NotificationsRuntime(Runtime):
    migrations_package: ClassVar[str] = "talent_notifications"
    with_outbox: ClassVar[bool] = False

    def register_subscribers(self) -> None:
        handlers.register_subscribers(self)
