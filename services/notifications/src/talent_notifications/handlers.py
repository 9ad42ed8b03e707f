"""Every Kafka subscriber of the notifications service, registered in this one place."""

from collections.abc import Callable, Sequence

from faststream.kafka import KafkaBroker

from talent_notifications import service
from talent_notifications.emails import Emails
from talent_notifications.settings import NotificationsSettings
from talent_shared.consumers import BatchHandler
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
    """``on_recorded`` is called after each batch: it may have recorded emails to send."""

    def applying(consumer: str) -> BatchHandler:
        async def apply(events: Sequence[Event[EventData]]) -> None:
            await service.apply_events(
                pool=database.pool,
                emails=emails,
                consumer=consumer,
                events=events,
                max_jobs=settings.max_jobs_per_email,
            )
            on_recorded()

        return apply

    for topic, name in ((CANDIDATES_TOPIC, CANDIDATES), (POSTINGS_TOPIC, JOBS)):
        subscribe(broker, settings, topic=topic, name=name, handler=applying(name))
