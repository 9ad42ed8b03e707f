from collections.abc import Mapping
from typing import ClassVar

from talent_notifications import handlers
from talent_notifications.alerts import AlertScheduler
from talent_notifications.delivery import DeliveryWorker
from talent_notifications.digests import DigestScheduler
from talent_notifications.emails import Emails
from talent_notifications.settings import NotificationsSettings
from talent_shared.events import FEEDBACK_TOPIC
from talent_shared.runtime import Runtime


class NotificationsRuntime(Runtime[NotificationsSettings]):
    migrations_package: ClassVar[str] = "talent_notifications"
    with_outbox: ClassVar[bool] = True  # complaints go to signup as events
    publishes: ClassVar[Mapping[str, str]] = {FEEDBACK_TOPIC: "through the transactional outbox"}

    def __init__(self, settings: NotificationsSettings) -> None:
        super().__init__(settings)
        self.emails = Emails(settings)
        self.delivery_worker = DeliveryWorker(self.database, self.emails, settings)
        wake = self.delivery_worker.wake
        uses = (self.database, self.emails, settings)
        self.digest_scheduler = DigestScheduler(
            *uses, every=settings.digest_check_seconds, on_recorded=wake
        )
        self.alert_scheduler = AlertScheduler(
            *uses, every=settings.alert_check_seconds, on_recorded=wake
        )
        for part in (self.delivery_worker, self.digest_scheduler, self.alert_scheduler):
            self.run_alongside(part)
        handlers.subscribe_all(
            self.broker, settings, database=self.database, emails=self.emails, on_recorded=wake
        )
