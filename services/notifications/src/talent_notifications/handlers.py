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
    settings = runtime.settings

    def consumer_of(name: str, group: str) -> EventConsumer:
        async def apply(events: Sequence[Event]) -> None:
            await service.apply_events(
                pool=runtime.pool,
                emails=runtime.emails,
                consumer=name,
                events=events,
                max_jobs=settings.max_jobs_per_email,
            )
            runtime.delivery_worker.wake()

        return EventConsumer(
            name=f"notifications.{name}",
            group=group,
            broker=runtime.broker,
            handler=apply,
        )

    def subscribe(topic: str, name: str) -> None:
        options = subscriber_options(settings, name)
        consumer = consumer_of(name, options["group_id"])

        @runtime.broker.subscriber(  # type: ignore[untyped-decorator]
            topic,
            batch=True,
            max_records=100,
            batch_timeout_ms=50,
            **options,
        )
        async def on_events(message: KafkaMessage) -> None:
            await consumer.consume(message)

    subscribe(CANDIDATES_TOPIC, CANDIDATES)
    subscribe(POSTINGS_TOPIC, JOBS)
