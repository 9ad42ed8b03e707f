from typing import ClassVar

from talent_notifications import handlers
from talent_notifications.delivery import DeliveryWorker
from talent_notifications.digests import DigestScheduler
from talent_notifications.emails import Emails
from talent_notifications.settings import NotificationsSettings
from talent_shared.runtime import Runtime


class NotificationsRuntime(Runtime[NotificationsSettings]):
    migrations_package: ClassVar[str] = "talent_notifications"
    with_outbox: ClassVar[bool] = False

    def __init__(self, settings: NotificationsSettings) -> None:
        super().__init__(settings)
        self.emails = Emails(settings)
        self.delivery_worker = DeliveryWorker(self.database, self.emails, settings)
        self.digest_scheduler = DigestScheduler(
            self.database, self.emails, settings, on_recorded=self.delivery_worker.wake
        )
        self.run_alongside(self.delivery_worker)
        self.run_alongside(self.digest_scheduler)
        handlers.subscribe_all(
            self.broker,
            settings,
            database=self.database,
            emails=self.emails,
            on_recorded=self.delivery_worker.wake,
        )
