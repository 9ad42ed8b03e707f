"""Jobs by requisition id: what an applicant tracking system (ATS) syncs the careers site with.

``put_by_requisition`` creates or updates one job; ``sync_feed`` takes the whole feed, closing the
open jobs with a requisition id it no longer has (jobs posted without one are left alone). Both
are idempotent: only what changed is written, and each change emits its one event, so a feed of
3,000 jobs with a few hundred changes emits a few hundred events. A closed job that comes back
in the feed is reopened. Feed writes run one at a time (an advisory lock), so a sync never works
from a stale picture of the catalogue.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import uuid4

import asyncpg

from talent_jobs import repository
from talent_jobs.known_jobs import KnownJobs
from talent_jobs.models import FeedJob, FeedSynced, Job
from talent_shared.db import Connection
from talent_shared.envelope import Event, new_event
from talent_shared.events import EventData, JobClosed, JobPosted, JobUpdated
from talent_shared.outbox import OutboxRelay, enqueue_all

PRODUCER = "jobs"
Outcome = Literal["created", "updated", "unchanged"]


@dataclass
class Changes:
    """What a feed changes, worked out against the catalogue."""

    create: list[dict[str, Any]] = field(default_factory=list)
    replace: list[dict[str, Any]] = field(default_factory=list)
    close: list[asyncpg.Record] = field(default_factory=list)
    unchanged: int = 0


def changes_of(feed: Sequence[FeedJob], current: Sequence[asyncpg.Record]) -> Changes:
    by_requisition = {row["requisition_id"]: row for row in current}
    changes = Changes()
    for job in feed:
        wanted = job.model_dump(include={"requisition_id", *repository.FEED_COLUMNS})
        row = by_requisition.pop(job.requisition_id, None)
        if row is None:
            changes.create.append({"job_id": uuid4(), **wanted})
        elif row["status"] != "open" or any(row[c] != wanted[c] for c in repository.FEED_COLUMNS):
            changes.replace.append({"job_id": row["job_id"], **wanted})
        else:
            changes.unchanged += 1
    changes.close = [row for row in by_requisition.values() if row["status"] == "open"]
    return changes


async def sync_feed(
    relay: OutboxRelay, known_jobs: KnownJobs, feed: Sequence[FeedJob], correlation_id: str
) -> FeedSynced:
    """Apply the whole ``feed`` in one transaction: what it lacks is closed."""
    async with relay.transaction() as connection:
        changes = await _apply(connection, feed, correlation_id, complete=True)
    known_jobs.update(job["job_id"] for job in changes.create)
    return FeedSynced(
        created=len(changes.create),
        updated=len(changes.replace),
        closed=len(changes.close),
        unchanged=changes.unchanged,
    )


async def _apply(
    connection: Connection, feed: Sequence[FeedJob], correlation_id: str, *, complete: bool
) -> Changes:
    """Write the changes ``feed`` makes and enqueue their events, one feed write at a time; with
    ``complete``, open jobs with a requisition id it lacks are closed."""
    await repository.lock_feeds(connection)
    requisitions = None if complete else [job.requisition_id for job in feed]
    current = await repository.jobs_with_requisitions(connection, requisitions)
    changes = changes_of(feed, current)
    if not complete:
        changes.close = []
    events = await _write(connection, changes)
    await enqueue_all(connection, _events_of(events, correlation_id))
    return changes


async def _write(connection: Connection, changes: Changes) -> list[EventData]:
    """Write the changes, three statements at most; the events they make, in order."""
    created = await repository.insert_jobs(connection, changes.create)
    replaced = await repository.replace_jobs(connection, changes.replace)
    closed = await repository.close_jobs(connection, [row["job_id"] for row in changes.close])
    events: list[EventData] = [_snapshot(JobPosted, row) for row in created]
    events += [_snapshot(JobUpdated, row) for row in replaced]
    events += [JobClosed(job_id=row["job_id"], closed_at=row["closed_at"]) for row in closed]
    return events


def _snapshot(kind: type[JobPosted] | type[JobUpdated], row: asyncpg.Record) -> EventData:
    return kind.model_validate(Job.model_validate(dict(row)).model_dump())


async def put_by_requisition(
    relay: OutboxRelay, known_jobs: KnownJobs, job: FeedJob, correlation_id: str
) -> tuple[Job, Outcome]:
    """Create or update the job of ``job.requisition_id``; the same body twice emits one
    event."""
    async with relay.transaction() as connection:
        changes = await _apply(connection, [job], correlation_id, complete=False)
        [row] = await repository.jobs_with_requisitions(connection, [job.requisition_id])
    known_jobs.update(created["job_id"] for created in changes.create)
    outcome: Outcome = "unchanged"
    if changes.create or changes.replace:
        outcome = "created" if changes.create else "updated"
    return Job.model_validate(dict(row)), outcome


def _events_of(events: Sequence[EventData], correlation_id: str) -> list[Event[EventData]]:
    return [new_event(data, producer=PRODUCER, correlation_id=correlation_id) for data in events]
