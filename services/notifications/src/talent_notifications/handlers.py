"""Every Kafka subscriber of the notifications service, registered in this one place."""

from collections.abc import Callable, Sequence
from functools import partial

from faststream.kafka import KafkaBroker

from talent_notifications.candidates import Batch, apply_candidate_events
from talent_notifications.emails import Emails
from talent_notifications.postings import apply_job_events
from talent_notifications.settings import NotificationsSettings
from talent_shared.db import Database
from talent_shared.envelope import Event
from talent_shared.events import CANDIDATES_TOPIC, POSTINGS_TOPIC, EventData
from talent_shared.kafka import subscribe

# The consumers' names: their groups, and their rows in the inbox (kept: renaming one would
# apply every retained event a second time).
CANDIDATES = "candidates"
JOBS = "jobs"


def subscribe_all(
    broker: KafkaBroker,
    settings: NotificationsSettings,
    *,
    database: Database,
    emails: Emails,
    on_recorded: Callable[[], None],
) -> None:
    """``on_recorded`` is called when emails may have been recorded, to send them soon."""

    async def on_candidate_events(events: Sequence[Event[EventData]]) -> None:
        batch = partial(
            Batch,
            emails=emails,
            consumer=CANDIDATES,
            max_jobs=settings.max_jobs_per_email,
            window_seconds=settings.alert_window_seconds,
        )
        await apply_candidate_events(pool=database.pool, batch=batch, events=events)
        on_recorded()

    async def on_job_events(events: Sequence[Event[EventData]]) -> None:
        await apply_job_events(
            pool=database.pool,
            consumer=JOBS,
            events=events,
            window_seconds=settings.alert_window_seconds,
        )

    subscribe(
        broker, settings, topic=CANDIDATES_TOPIC, name=CANDIDATES, handler=on_candidate_events
    )
    subscribe(broker, settings, topic=POSTINGS_TOPIC, name=JOBS, handler=on_job_events)
