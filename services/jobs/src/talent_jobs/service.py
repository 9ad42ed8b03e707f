"""What the jobs service does, as plain async functions; HTTP and Kafka handlers only call these."""

from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID, uuid4

import asyncpg
from faststream.kafka import KafkaBroker

from talent_jobs import repository
from talent_jobs.models import Job, JobCreate, JobViewIn, RecentlyViewed, RecentlyViewedJob
from talent_shared.db import Pool
from talent_shared.events import Event, JobPosted, JobViewed, new_event
from talent_shared.kafka import publish_event
from talent_shared.outbox import OutboxRelay, enqueue

PRODUCER = "jobs"


class JobNotFoundError(LookupError):
    pass


class DuplicateRequisitionError(ValueError):
    pass


async def create_job(*, pool: Pool, relay: OutboxRelay, new: JobCreate, correlation_id: str) -> Job:
    async with pool.acquire() as connection, connection.transaction():
        try:
            row = await repository.insert_job(connection, job_id=uuid4(), **new.model_dump())
        except asyncpg.UniqueViolationError as error:
            raise DuplicateRequisitionError(new.requisition_id) from error
        job = Job.model_validate(dict(row))
        posted = JobPosted.model_validate(job.model_dump())
        await enqueue(
            connection, new_event(posted, producer=PRODUCER, correlation_id=correlation_id)
        )
    relay.wake()
    return job


async def get_job(*, pool: Pool, job_id: UUID) -> Job:
    async with pool.acquire() as connection:
        row = await repository.fetch_job(connection, job_id)
    if row is None:
        raise JobNotFoundError(job_id)
    return Job.model_validate(dict(row))


async def record_job_view(
    *, pool: Pool, broker: KafkaBroker, view: JobViewIn, correlation_id: str, timeout: float
) -> UUID:
    """Validate the job, then publish ``JobViewed``; returns once Kafka has acknowledged it."""
    async with pool.acquire() as connection:
        if not await repository.job_exists(connection, view.job_id):
            raise JobNotFoundError(view.job_id)
    viewed = JobViewed(
        visitor_id=view.visitor_id,
        job_id=view.job_id,
        viewed_at=view.viewed_at or datetime.now(UTC),
    )
    event = new_event(viewed, producer=PRODUCER, correlation_id=correlation_id)
    await publish_event(broker, event, timeout=timeout)
    return event.event_id


async def apply_job_views(*, pool: Pool, events: Sequence[Event], kept: int) -> None:
    """Project a batch of ``JobViewed`` events in one round trip; safe to repeat."""
    views = [event.data for event in events if isinstance(event.data, JobViewed)]
    if not views:
        return
    async with pool.acquire() as connection:
        await repository.project_views(
            connection,
            visitor_ids=[view.visitor_id for view in views],
            job_ids=[view.job_id for view in views],
            viewed_ats=[view.viewed_at for view in views],
            kept=kept,
        )


async def recently_viewed(*, pool: Pool, visitor_id: str, limit: int) -> RecentlyViewed:
    async with pool.acquire() as connection:
        rows = await repository.recently_viewed(connection, visitor_id=visitor_id, limit=limit)
    return RecentlyViewed(
        visitor_id=visitor_id,
        items=[RecentlyViewedJob.model_validate(dict(row)) for row in rows],
    )
