from contextlib import AsyncExitStack
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
        self.emails = Emails(settings)
        self._worker: DeliveryWorker | None = None
        self._digests: DigestScheduler | None = None
        super().__init__(settings)

    def register_subscribers(self) -> None:
        handlers.register_subscribers(self)

    @property
    def delivery_worker(self) -> DeliveryWorker:
        if self._worker is None:
            raise RuntimeError("the delivery worker starts with the service")
        return self._worker

    @property
    def digest_scheduler(self) -> DigestScheduler:
        if self._digests is None:
            raise RuntimeError("the digest scheduler starts with the service")
        return self._digests

    async def on_started(self, stack: AsyncExitStack) -> None:
        settings = self.settings
        self._worker = DeliveryWorker(self.pool, self.emails, settings)
        self._digests = DigestScheduler(
            self.pool, self.emails, settings, on_recorded=self._worker.wake
        )
        self._worker.start()
        stack.push_async_callback(self._worker.stop)
        self._digests.start()
        stack.push_async_callback(self._digests.stop)
