"""Every Kafka subscriber of the jobs service, registered in this one place, and the topics it
publishes to (declared for the AsyncAPI document; events go out through the outbox relay and,
for job views, straight from the HTTP handler)."""

from collections.abc import Sequence
from typing import TYPE_CHECKING

from faststream.kafka.annotations import KafkaMessage

from talent_jobs import service
from talent_shared.asyncapi import declare_publishers
from talent_shared.events import CANDIDATES_TOPIC, POSTINGS_TOPIC, VIEWS_TOPIC, Event
from talent_shared.kafka import EventConsumer, subscriber_options

if TYPE_CHECKING:
    from talent_jobs.runtime import JobsRuntime

RECENTLY_VIEWED = "recently-viewed-projector"
ERASURES = "candidate-erasures"
# How long the projector's poll waits for views; FastStream sleeps as long again after an empty
# poll, so a view reaching an idle projector waited up to 100 ms at 50. At 10 (sparse views, one
# every 150-250 ms, paired runs): p90 57/52 -> 18/16 ms, p99 83/58 -> 27/22 ms; under steady
# ingest the poll returns as soon as records arrive, so it changes nothing there.
PROJECTOR_POLL_MS = 10


def register_subscribers(runtime: "JobsRuntime") -> None:
    settings = runtime.settings
    declare_publishers(runtime.broker, [POSTINGS_TOPIC], how="through the transactional outbox")
    declare_publishers(runtime.broker, [VIEWS_TOPIC], how="by POST /v1/job-views, once Kafka acks")

    async def forget(events: Sequence[Event]) -> None:
        await service.forget_erased_visitors(pool=runtime.pool, events=events)

    erasure_options = subscriber_options(settings, ERASURES)
    erasures = EventConsumer(
        name=ERASURES,
        group=erasure_options["group_id"],
        broker=runtime.broker,
        handler=forget,
    )

    @runtime.broker.subscriber(  # type: ignore[untyped-decorator]
        CANDIDATES_TOPIC,
        batch=True,
        max_records=100,
        decoder=EventConsumer.undecoded,
        **erasure_options,
    )
    async def on_candidate_events(message: KafkaMessage) -> None:
        await erasures.consume(message)

    if settings.run_projector:
        _register_projector(runtime)


def _register_projector(runtime: "JobsRuntime") -> None:
    settings = runtime.settings

    async def project(events: Sequence[Event]) -> None:
        await service.apply_job_views(
            pool=runtime.pool, events=events, kept=settings.recently_viewed_kept
        )

    options = subscriber_options(settings, RECENTLY_VIEWED)
    projector = EventConsumer(
        name=RECENTLY_VIEWED, group=options["group_id"], broker=runtime.broker, handler=project
    )

    @runtime.broker.subscriber(  # type: ignore[untyped-decorator]
        VIEWS_TOPIC,
        batch=True,
        max_records=settings.projector_batch_size,
        batch_timeout_ms=PROJECTOR_POLL_MS,
        decoder=EventConsumer.undecoded,
        **options,
    )
    async def on_job_views(message: KafkaMessage) -> None:
        await projector.consume(message)
