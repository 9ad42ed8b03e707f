"""Every Kafka subscriber of the jobs service, registered in this one place."""

from collections.abc import Sequence
from dataclasses import dataclass

from faststream.kafka import KafkaBroker

from talent_jobs import service
from talent_jobs.settings import JobsSettings
from talent_shared.consumers import EventRouter
from talent_shared.db import Database
from talent_shared.envelope import Event
from talent_shared.events import (
    CANDIDATES_TOPIC,
    VIEWS_TOPIC,
    CandidateErased,
    JobViewed,
)
from talent_shared.kafka import streaming, subscribe

RECENTLY_VIEWED = "recently-viewed-projector"
ERASURES = "candidate-erasures"


@dataclass(frozen=True)
class Uses:
    """What the handlers work with."""

    database: Database
    settings: JobsSettings


candidate_events = EventRouter[Uses]()
job_views = EventRouter[Uses]()


@candidate_events.on(CandidateErased)
async def forget_erased_visitors(uses: Uses, events: Sequence[Event[CandidateErased]]) -> None:
    erasures = [event.data for event in events]
    await service.forget_erased_visitors(pool=uses.database.pool, erasures=erasures)


@job_views.on(JobViewed)
async def project_job_views(uses: Uses, events: Sequence[Event[JobViewed]]) -> None:
    await service.apply_job_views(
        pool=uses.database.pool,
        views=[event.data for event in events],
        kept=uses.settings.recently_viewed_kept,
    )


def subscribe_all(broker: KafkaBroker, settings: JobsSettings, *, database: Database) -> None:
    uses = Uses(database, settings)
    subscribe(
        broker,
        settings,
        topic=CANDIDATES_TOPIC,
        name=ERASURES,
        handler=candidate_events.handler(uses),
    )
    if settings.run_projector:
        subscribe(
            broker,
            settings,
            topic=VIEWS_TOPIC,
            name=RECENTLY_VIEWED,
            handler=job_views.handler(uses),
            pace=streaming(settings.projector_batch_size),
        )
