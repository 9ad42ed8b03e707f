"""Every Kafka subscriber of the notifications service, registered in this one place."""

from collections.abc import Sequence
from typing import TYPE_CHECKING

from faststream.kafka.annotations import KafkaMessage

from talent_notifications import service
from talent_shared.events import CANDIDATES_TOPIC, POSTINGS_TOPIC, Event
from talent_shared.kafka import EventConsumer, subscriber_options

if TYPE_CHECKING:
    from talent_notifications.runtime import NotificationsRuntime

CANDIDATES = "candidates"
JOBS = "jobs"


def register_subscribers(runtime: "NotificationsRuntime") -> None:
    settings = runtime.notifications_settings

    def consumer_of(name: str) -> EventConsumer:
        async def apply(events: Sequence[Event]) -> None:
            await service.apply_events(
                pool=runtime.pool,
                emails=runtime.emails,
                consumer=name,
                events=events,
                max_jobs=settings.max_jobs_per_email,
            )
            runtime.delivery_worker.wake()

        return EventConsumer(name=f"notifications.{name}", broker=runtime.broker, handler=apply)

    candidates, jobs = consumer_of(CANDIDATES), consumer_of(JOBS)

    @runtime.broker.subscriber(  # type: ignore[untyped-decorator]
        CANDIDATES_TOPIC,
        batch=True,
        max_records=100,
        batch_timeout_ms=50,
        **subscriber_options(settings, CANDIDATES),
    )
    async def on_candidate_events(message: KafkaMessage) -> None:
        await candidates.consume(message)

    @runtime.broker.subscriber(  # type: ignore[untyped-decorator]
        POSTINGS_TOPIC,
        batch=True,
        max_records=100,
        batch_timeout_ms=50,
        **subscriber_options(settings, JOBS),
    )
    async def on_job_events(message: KafkaMessage) -> None:
        await jobs.consume(message)
