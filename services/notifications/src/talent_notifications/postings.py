"""What the notifications service does with job events (jobs.postings.v1).

A batch goes in three steps (see :mod:`.locks` for why no candidate is missed):

1. its job changes are committed in one short transaction that passes the matching barrier;
2. each job it opened or changed is matched against the subscribers, in pages of candidates,
   each page in a transaction holding those candidates' locks and checking them again: a waiting
   match for an instant subscriber, a place in the digest queue for the others;
3. the batch is recorded in the inbox.

A crash between the steps redelivers the batch: step 1 applies the same snapshots again (a
snapshot older than the row changes nothing), step 2 finds the matches recorded already, and a
job is still never alerted twice.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from uuid import UUID

from talent_notifications import locks, repository
from talent_shared.consumers import EventRouter
from talent_shared.db import Connection, Pool
from talent_shared.envelope import Event
from talent_shared.events import EventData, JobClosed, JobPosted, JobSnapshot, JobUpdated
from talent_shared.inbox import first_deliveries, handled_before

# Candidates matched and recorded per transaction: each holds their locks meanwhile.
PAGE_SIZE = 500


@dataclass
class JobChanges:
    """The barrier transaction of a batch, and the jobs it opened or changed (to match)."""

    connection: Connection
    to_match: list[UUID] = field(default_factory=list)


EVENTS = EventRouter[JobChanges]()


async def apply_job_events(
    *,
    pool: Pool,
    consumer: str,
    events: Sequence[Event[EventData]],
    window_seconds: float,
    on_page: Callable[[], None] = lambda: None,
) -> None:
    """The three steps of the module docstring; ``on_page`` is called after each page."""
    async with pool.acquire() as connection:
        done = await handled_before(
            connection, consumer=consumer, event_ids=[event.event_id for event in events]
        )
    fresh = [event for event in events if event.event_id not in done]
    async with pool.acquire() as connection, connection.transaction():
        changes = await apply_job_changes_in(connection, fresh)
    for job_id in dict.fromkeys(changes.to_match):
        await match_job(pool, job_id, window_seconds=window_seconds, on_page=on_page)
    async with pool.acquire() as connection, connection.transaction():
        await first_deliveries(
            connection, consumer=consumer, event_ids=[event.event_id for event in events]
        )


async def apply_job_changes_in(
    connection: Connection, events: Sequence[Event[EventData]]
) -> JobChanges:
    """Step 1 inside the caller's open transaction, the barrier held until it ends."""
    await locks.pass_barrier(connection)
    changes = JobChanges(connection)
    await EVENTS.route(changes, events)
    return changes


@EVENTS.on(JobPosted)
async def _posted(changes: JobChanges, events: Sequence[Event[JobPosted]]) -> None:
    await _apply_snapshots(changes, [event.data for event in events])


@EVENTS.on(JobUpdated)
async def _updated(changes: JobChanges, events: Sequence[Event[JobUpdated]]) -> None:
    await _apply_snapshots(changes, [event.data for event in events])


async def _apply_snapshots(changes: JobChanges, jobs: Sequence[JobSnapshot]) -> None:
    for job in jobs:
        # An older snapshot than ours changes nothing; a closed job alerts nobody.
        if await repository.upsert_job(changes.connection, job) and job.status == "open":
            changes.to_match.append(job.job_id)


@EVENTS.on(JobClosed)
async def _closed(changes: JobChanges, events: Sequence[Event[JobClosed]]) -> None:
    for event in events:
        await repository.close_job(changes.connection, event.data.job_id, event.data.closed_at)


async def match_job(
    pool: Pool, job_id: UUID, *, window_seconds: float, on_page: Callable[[], None]
) -> None:
    """Step 2 for one job: its subscribers, read once, recorded page by page."""
    async with pool.acquire() as connection:
        candidate_ids = await repository.subscribers_matching_job(connection, job_id)
    for start in range(0, len(candidate_ids), PAGE_SIZE):
        page = candidate_ids[start : start + PAGE_SIZE]
        async with pool.acquire() as connection, connection.transaction():
            await locks.lock_candidates(connection, page)
            await repository.record_job_matches(
                connection, job_id, page, window_seconds=window_seconds
            )
        on_page()
