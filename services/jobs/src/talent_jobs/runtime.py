from contextlib import AsyncExitStack
from typing import ClassVar

from talent_jobs import handlers
from talent_jobs.known_jobs import KnownJobs
from talent_jobs.settings import JobsSettings
from talent_shared.runtime import Runtime


class JobsRuntime(Runtime[JobsSettings]):
    migrations_package: ClassVar[str] = "talent_jobs"
    with_outbox: ClassVar[bool] = True

    def __init__(self, settings: JobsSettings) -> None:
        self.known_jobs = KnownJobs()
        super().__init__(settings)

    def register_subscribers(self) -> None:
        handlers.register_subscribers(self)

    async def on_started(self, stack: AsyncExitStack) -> None:
        await self.known_jobs.warm(self.pool)
