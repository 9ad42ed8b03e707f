"""What the jobs service does, as plain async functions; HTTP and Kafka handlers only call these."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg
from faststream.kafka import KafkaBroker
from pydantic import ValidationError

from talent_jobs import repository
from talent_jobs.known_jobs import KnownJobs
from talent_jobs.models import (
    Facet,
    Job,
    JobCreate,
    JobFacets,
    JobPage,
    JobUpdate,
    JobViewBatchAccepted,
    JobViewIn,
    RejectedJobView,
)
from talent_jobs.pagination import decode_cursor, encode_cursor
from talent_jobs.repository import JobFilters, Position
from talent_shared.db import Connection, Database, Pool
from talent_shared.envelope import new_event, new_event_records
from talent_shared.events import (
    CandidateErased,
    EventData,
    JobClosed,
    JobPosted,
    JobUpdated,
    JobViewed,
)
from talent_shared.outbox import OutboxRelay, enqueue
from talent_shared.publishing import PublishFailedError, publish_event, publish_events

PRODUCER = "jobs"


class JobNotFoundError(LookupError):
    def __init__(self, job_id: UUID) -> None:
        super().__init__(f"job {job_id} not found")


class DuplicateRequisitionError(ValueError):
    def __init__(self, requisition_id: str | None) -> None:
        super().__init__(f"requisition_id {requisition_id} is already used by another job")


class ViewsNotRecordedError(Exception):
    """Kafka did not take the views in time: nothing is promised, the front end retries."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} could not be recorded right now; retry shortly")
        self.headers = {"Retry-After": "1"}


@dataclass(frozen=True)
class ViewIntake:
    """What taking job views needs: the jobs that exist (a view of another is refused), and the
    producer that publishes the views, with how long Kafka may take to acknowledge them."""

    database: Database
    broker: KafkaBroker
    known_jobs: KnownJobs
    timeout: float


async def _emit(connection: Connection, data: EventData, correlation_id: str) -> None:
    await enqueue(connection, new_event(data, producer=PRODUCER, correlation_id=correlation_id))


async def create_job(
    relay: OutboxRelay, known_jobs: KnownJobs, new: JobCreate, correlation_id: str
) -> Job:
    async with relay.transaction() as connection:
        try:
            row = await repository.insert_job(connection, job_id=uuid4(), **new.model_dump())
        except asyncpg.UniqueViolationError as error:
            raise DuplicateRequisitionError(new.requisition_id) from error
        job = Job.model_validate(dict(row))
        await _emit(connection, JobPosted.model_validate(job.model_dump()), correlation_id)
    known_jobs.add(job.job_id)
    return job


async def update_job(
    relay: OutboxRelay, job_id: UUID, update: JobUpdate, correlation_id: str
) -> Job:
    """Apply a partial update; emits ``JobUpdated`` only when something really changed."""
    async with relay.transaction() as connection:
        current = await repository.lock_job(connection, job_id)
        if current is None:
            raise JobNotFoundError(job_id)
        changes = {k: v for k, v in update.changes().items() if current[k] != v}
        if not changes:
            return Job.model_validate(dict(current))
        try:
            row = await repository.update_job(connection, job_id, changes)
        except asyncpg.UniqueViolationError as error:
            raise DuplicateRequisitionError(update.requisition_id) from error
        job = Job.model_validate(dict(row))
        await _emit(connection, JobUpdated.model_validate(job.model_dump()), correlation_id)
    return job


async def close_job(relay: OutboxRelay, job_id: UUID, correlation_id: str) -> Job:
    """Close a job; closing a closed job changes nothing and emits nothing."""
    async with relay.transaction() as connection:
        row = await repository.close_job(connection, job_id)
        if row is None:
            existing = await repository.fetch_job(connection, job_id)
            if existing is None:
                raise JobNotFoundError(job_id)
            return Job.model_validate(dict(existing))
        job = Job.model_validate(dict(row))
        assert job.closed_at is not None
        await _emit(connection, JobClosed(job_id=job_id, closed_at=job.closed_at), correlation_id)
    return job


async def get_job(*, pool: Pool, job_id: UUID) -> Job:
    async with pool.acquire() as connection:
        row = await repository.fetch_job(connection, job_id)
    if row is None:
        raise JobNotFoundError(job_id)
    return Job.model_validate(dict(row))


async def list_jobs(*, pool: Pool, filters: JobFilters, cursor: str | None, limit: int) -> JobPage:
    """One page of open jobs, newest first. Raises ``InvalidCursorError`` for a bad cursor."""
    after = decode_cursor(cursor) if cursor else None
    async with pool.acquire() as connection:
        rows = await repository.list_open_jobs(
            connection, filters=filters, after=after, limit=limit + 1
        )
    jobs = [Job.model_validate(dict(row)) for row in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = jobs[-1]
        next_cursor = encode_cursor(Position(posted_at=last.posted_at, job_id=last.job_id))
    return JobPage(items=jobs, next_cursor=next_cursor)


async def count_jobs(*, pool: Pool, filters: JobFilters) -> int:
    """How many open jobs match ``filters`` (all of them, not one page)."""
    async with pool.acquire() as connection:
        return await repository.count_open_jobs(connection, filters=filters)


async def job_facets(*, pool: Pool) -> JobFacets:
    async with pool.acquire() as connection:
        facets = await repository.open_job_facets(connection)
    return JobFacets(
        **{
            kind: [Facet(name=row["name"], count=row["count"]) for row in rows]
            for kind, rows in facets.items()
        }
    )


@dataclass(frozen=True)
class SitemapEntry:
    path: str
    last_modified: datetime | None


async def sitemap_entries(*, pool: Pool, limit: int) -> list[SitemapEntry]:
    """The home page, the search page and the newest open jobs' pages, ``limit`` in all."""
    # One snapshot: the pages' last change is that of the jobs listed.
    async with (
        pool.acquire() as connection,
        connection.transaction(isolation="repeatable_read", readonly=True),
    ):
        last_change = await repository.last_catalogue_change(connection)
        jobs = await repository.open_job_changes(connection, limit=limit - 2)
    return [
        SitemapEntry(path="/", last_modified=last_change),
        SitemapEntry(path="/jobs", last_modified=last_change),
        *(SitemapEntry(f"/jobs/{job['job_id']}", last_modified=job["updated_at"]) for job in jobs),
    ]


async def record_job_view(intake: ViewIntake, view: JobViewIn, correlation_id: str) -> UUID:
    """Check the job exists, then publish ``JobViewed``; returns once Kafka acknowledged it."""
    if not await intake.known_jobs.exists(intake.database.pool, view.job_id):
        raise JobNotFoundError(view.job_id)
    viewed = JobViewed(
        visitor_id=view.visitor_id,
        job_id=view.job_id,
        viewed_at=view.viewed_at or datetime.now(UTC),
    )
    [record] = new_event_records([viewed], producer=PRODUCER, correlation_id=correlation_id)
    try:
        await publish_event(intake.broker, record, timeout=intake.timeout)
    except PublishFailedError as error:
        raise ViewsNotRecordedError("the job view") from error
    return record.event_id


def _validation_detail(error: ValidationError) -> str:
    """The single endpoint's messages, one line: ``field: message; ...``."""
    return "; ".join(
        ".".join(str(part) for part in e["loc"]) + ": " + e["msg"] if e["loc"] else e["msg"]
        for e in error.errors()
    )


def validate_job_views(
    events: Sequence[Any],
) -> tuple[list[tuple[int, JobViewIn]], list[RejectedJobView]]:
    """Each event checked on its own: the valid views with their index, and the rejections."""
    views: list[tuple[int, JobViewIn]] = []
    rejected: list[RejectedJobView] = []
    for index, raw in enumerate(events):
        if not isinstance(raw, dict):
            rejected.append(RejectedJobView(index=index, detail="an event is a JSON object"))
            continue
        try:
            views.append((index, JobViewIn.model_validate(raw)))
        except ValidationError as error:
            rejected.append(RejectedJobView(index=index, detail=_validation_detail(error)))
    return views, rejected


async def record_job_views(
    intake: ViewIntake,
    views: Sequence[tuple[int, JobViewIn]],
    invalid: Sequence[RejectedJobView],
    correlation_id: str,
) -> JobViewBatchAccepted:
    """Publish a ``JobViewed`` for each view (with its index in the batch) of a known job, all
    at once; returns once Kafka acknowledged every one. Views of unknown jobs are rejected, after
    the ``invalid`` events."""
    unknown = await intake.known_jobs.unknown_among(
        intake.database.pool, (view.job_id for _, view in views)
    )
    rejected = [
        *invalid,
        *(
            RejectedJobView(index=index, detail=f"job {view.job_id} not found")
            for index, view in views
            if view.job_id in unknown
        ),
    ]
    now = datetime.now(UTC)
    accepted = new_event_records(
        (
            JobViewed(
                visitor_id=view.visitor_id, job_id=view.job_id, viewed_at=view.viewed_at or now
            )
            for _, view in views
            if view.job_id not in unknown
        ),
        producer=PRODUCER,
        correlation_id=correlation_id,
    )
    if accepted:
        try:
            await publish_events(intake.broker, accepted, timeout=intake.timeout)
        except PublishFailedError as error:
            raise ViewsNotRecordedError("the job views") from error
    return JobViewBatchAccepted(
        accepted=len(accepted), rejected=sorted(rejected, key=lambda r: r.index)
    )


async def apply_job_views(*, pool: Pool, views: Sequence[JobViewed], kept: int) -> None:
    """Project a batch of job views in one round trip; safe to repeat."""
    async with pool.acquire() as connection:
        await repository.project_views(
            connection,
            visitor_ids=[view.visitor_id for view in views],
            job_ids=[view.job_id for view in views],
            viewed_ats=[view.viewed_at for view in views],
            kept=kept,
        )


async def forget_erased_visitors(*, pool: Pool, erasures: Sequence[CandidateErased]) -> None:
    """An erased candidate's browsing history goes too: drop the visitors they gave, and any of
    their views from before the erasure that is still on its way."""
    erasures = [erasure for erasure in erasures if erasure.visitor_ids]
    if erasures:
        async with pool.acquire() as connection, connection.transaction():
            for erasure in erasures:
                await repository.erase_visitors(
                    connection, erasure.visitor_ids, erased_at=erasure.erased_at
                )


async def recently_viewed_json(*, pool: Pool, visitor_id: str, limit: int) -> str:
    """The JSON of ``RecentlyViewed``, built by the database: no model per item on this hot path."""
    async with pool.acquire() as connection:
        return await repository.recently_viewed_json(connection, visitor_id=visitor_id, limit=limit)
