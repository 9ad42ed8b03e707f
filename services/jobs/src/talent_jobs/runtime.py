from collections.abc import Mapping
from typing import ClassVar

from talent_jobs import handlers
from talent_jobs.known_jobs import KnownJobs
from talent_jobs.service import ViewIntake
from talent_jobs.settings import JobsSettings
from talent_shared.events import POSTINGS_TOPIC, VIEWS_TOPIC
from talent_shared.runtime import Runtime


class JobsRuntime(Runtime[JobsSettings]):
    migrations_package: ClassVar[str] = "talent_jobs"
    with_outbox: ClassVar[bool] = True
    publishes: ClassVar[Mapping[str, str]] = {
        POSTINGS_TOPIC: "through the transactional outbox",
        VIEWS_TOPIC: "by POST /v1/job-views, once Kafka acks",
    }

    def __init__(self, settings: JobsSettings) -> None:
        super().__init__(settings)
        self.known_jobs = KnownJobs()
        self.warm_up(lambda: self.known_jobs.warm(self.pool))
        self.views = ViewIntake(
            self.database, self.broker, self.known_jobs, settings.kafka_publish_timeout_seconds
        )
        handlers.subscribe_all(self.broker, settings, database=self.database)
