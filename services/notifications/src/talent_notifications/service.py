"""What the notifications service does with events, and its digests, as plain async functions.

Every effect of an event (replica change, delivery rows) is written in the transaction that
records the event in the inbox, so a redelivered event changes nothing and sends nothing.
Emails are only recorded here; the delivery worker sends them.

Events on the two topics cross: the candidates consumer reads the jobs replica and the jobs
consumer reads the subscribers replica. Under READ COMMITTED each would miss the other's
uncommitted row, and a job posted while a matching candidate signs up would reach nobody. So every
transaction that changes or matches the replicas first takes one advisory lock
(:func:`repository.lock_matching`): they run one at a time, the later one sees what the earlier one
committed, and the alert is recorded exactly once (``alerted_jobs`` holds that, whoever records it).
"""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar
from uuid import UUID, uuid4

import asyncpg

from talent_notifications import repository
from talent_notifications.emails import CONFIRMATION, Emails, RenderedEmail
from talent_shared.consumers import EventRouter
from talent_shared.db import Connection, Pool
from talent_shared.envelope import Event
from talent_shared.events import (
    CandidateConfirmationRequested,
    CandidateErased,
    CandidatePreferencesChanged,
    CandidateSignedUp,
    CandidateUnsubscribed,
    EventData,
    JobClosed,
    JobPosted,
    JobSnapshot,
    JobUpdated,
)
from talent_shared.inbox import first_deliveries
from talent_shared.logging import get_logger
from talent_shared.tracing import handling

log = get_logger(__name__)

D = TypeVar("D", bound=EventData)

# Jobs changed after a preference change but matched before it arrived: a lag window, so few.
MAX_CATCH_UP_JOBS = 50


@dataclass(frozen=True)
class Recipient:
    candidate_id: UUID
    email: str
    first_name: str


@dataclass(frozen=True)
class Batch:
    """What the handlers of a batch work with: its transaction and the consumer's name."""

    connection: Connection
    emails: Emails
    consumer: str
    max_jobs: int


EVENTS = EventRouter[Batch]()


async def apply_events(
    *,
    pool: Pool,
    emails: Emails,
    consumer: str,
    events: Sequence[Event[EventData]],
    max_jobs: int,
) -> None:
    """Apply a batch in one transaction, each event once (inbox, one round trip per batch)."""
    async with pool.acquire() as connection, connection.transaction():
        await apply_events_in(
            connection, emails=emails, consumer=consumer, events=events, max_jobs=max_jobs
        )


async def apply_events_in(
    connection: Connection,
    *,
    emails: Emails,
    consumer: str,
    events: Sequence[Event[EventData]],
    max_jobs: int,
) -> None:
    """Apply a batch inside the caller's open transaction, the matching lock held until it ends.

    Events apply in order, each run of one type by its handler (:data:`EVENTS`): consecutive
    sign-ups (the bulk of a burst) are applied together in a constant number of round trips."""
    await repository.lock_matching(connection)
    fresh = await first_deliveries(
        connection, consumer=consumer, event_ids=[event.event_id for event in events]
    )
    firsts = []
    for event in events:
        if event.event_id in fresh:
            fresh.discard(event.event_id)  # a repeat within the batch is applied once
            firsts.append(event)
    await EVENTS.route(Batch(connection, emails, consumer, max_jobs), firsts)


@EVENTS.on(CandidateSignedUp)
async def _on_signed_up(batch: Batch, events: Sequence[Event[CandidateSignedUp]]) -> None:
    """Sign-ups: the subscribers and their welcomes written in one round trip each, then an
    alert for those (usually few) with open jobs matching already."""
    connection, emails = batch.connection, batch.emails
    # A replay of an erased candidate's sign-up must not bring them back.
    erased = await repository.erased_among(connection, [e.data.candidate_id for e in events])
    kept = [event for event in events if event.data.candidate_id not in erased]
    await repository.upsert_subscribers(connection, [event.data for event in kept])
    welcomes = []
    for event in kept:
        with handling(event, batch.consumer):  # the email continues the sign-up's trace
            welcomes.append(_welcome(emails, event.data))
    await repository.insert_deliveries(connection, welcomes)
    wanting_alerts = [event for event in kept if event.data.alert_frequency != "never"]
    with_matches = await repository.with_open_jobs_matching(
        connection, [event.data.candidate_id for event in wanting_alerts]
    )
    for event in wanting_alerts:
        data = event.data
        if data.candidate_id not in with_matches:
            continue
        with handling(event, batch.consumer):
            jobs = await repository.open_jobs_matching(
                connection, data.candidate_id, limit=batch.max_jobs
            )
            recipient = Recipient(data.candidate_id, data.email, data.first_name)
            await _record_job_email(
                connection, emails, recipient, jobs, dedup_key=f"signup-alert:{data.candidate_id}"
            )


def each_in_its_trace(
    apply: Callable[[Batch, Event[D]], Awaitable[None]],
) -> Callable[[Batch, Sequence[Event[D]]], Awaitable[None]]:
    """A handler applying a run's events one at a time, each in the trace it arrived with."""

    async def apply_each(batch: Batch, events: Sequence[Event[D]]) -> None:
        for event in events:
            with handling(event, batch.consumer):
                await apply(batch, event)

    return apply_each


def _welcome(emails: Emails, data: CandidateSignedUp) -> repository.NewDelivery:
    content = emails.welcome(
        candidate_id=data.candidate_id, first_name=data.first_name, frequency=data.alert_frequency
    )
    return repository.NewDelivery(
        delivery_id=uuid4(),
        dedup_key=f"welcome:{data.candidate_id}",
        candidate_id=data.candidate_id,
        kind="welcome",
        to_address=data.email,
        content=content,
        job_ids=[],
    )


@EVENTS.on(CandidateConfirmationRequested)
@each_in_its_trace
async def _on_confirmation_requested(
    batch: Batch, event: Event[CandidateConfirmationRequested]
) -> None:
    """Double opt-in: one confirmation email per candidate. It is not a member yet, so nothing
    else is kept: ``CandidateSignedUp`` follows the confirmation."""
    connection, emails, data = batch.connection, batch.emails, event.data
    if await repository.is_erased(connection, data.candidate_id):
        return
    content = emails.confirmation(candidate_id=data.candidate_id, first_name=data.first_name)
    recipient = Recipient(data.candidate_id, data.email, data.first_name)
    await _record(
        connection, recipient, CONFIRMATION, f"confirmation:{data.candidate_id}", content, []
    )


@EVENTS.on(CandidatePreferencesChanged)
@each_in_its_trace
async def _on_preferences_changed(batch: Batch, event: Event[CandidatePreferencesChanged]) -> None:
    """Apply new preferences, then catch up on jobs posted or updated after the change that the
    jobs consumer matched against the old ones because this event arrived later: the outcome is
    the same whichever topic's event is consumed first."""
    connection, emails, data = batch.connection, batch.emails, event.data
    changed_at = event.envelope.occurred_at
    # An erased (or never seen) candidate has no row: nothing is updated, nothing follows.
    subscriber = await repository.update_preferences(
        connection,
        data.candidate_id,
        interests=data.interests,
        locations=data.locations,
        keywords=data.keywords,
        alert_frequency=data.alert_frequency,
        subscribed=data.subscribed,
    )
    if subscriber is None or not subscriber["subscribed"] or data.alert_frequency == "never":
        return
    jobs = await repository.open_jobs_matching(
        connection, data.candidate_id, limit=MAX_CATCH_UP_JOBS, changed_since=changed_at
    )
    if not jobs:
        return
    if data.alert_frequency != "instant":
        job_ids = [job["job_id"] for job in jobs]
        await repository.queue_jobs_for_digest(connection, data.candidate_id, job_ids)
        return
    recipient = Recipient(data.candidate_id, subscriber["email"], subscriber["first_name"])
    await _record_job_email(
        connection,
        emails,
        recipient,
        jobs,
        dedup_key=f"preferences-alert:{data.candidate_id}:{changed_at.isoformat()}",
    )


@EVENTS.on(CandidateUnsubscribed)
@each_in_its_trace
async def _on_unsubscribed(batch: Batch, event: Event[CandidateUnsubscribed]) -> None:
    await repository.unsubscribe(batch.connection, event.data.candidate_id)


@EVENTS.on(CandidateErased)
@each_in_its_trace
async def _on_erased(batch: Batch, event: Event[CandidateErased]) -> None:
    await repository.erase(batch.connection, event.data.candidate_id)


@EVENTS.on(JobClosed)
@each_in_its_trace
async def _on_job_closed(batch: Batch, event: Event[JobClosed]) -> None:
    await repository.close_job(batch.connection, event.data.job_id, event.data.closed_at)


@EVENTS.on(JobPosted)
@each_in_its_trace
async def _on_job_posted(batch: Batch, event: Event[JobPosted]) -> None:
    await _on_job_snapshot(batch.connection, batch.emails, event.data)


@EVENTS.on(JobUpdated)
@each_in_its_trace
async def _on_job_updated(batch: Batch, event: Event[JobUpdated]) -> None:
    await _on_job_snapshot(batch.connection, batch.emails, event.data)


async def _on_job_snapshot(connection: Connection, emails: Emails, job: JobSnapshot) -> None:
    if not await repository.upsert_job(connection, job) or job.status != "open":
        return  # an older snapshot than ours, or a closed job: nobody is alerted
    matches = await repository.subscribers_matching_job(connection, job.job_id)
    later = [m["candidate_id"] for m in matches if m["alert_frequency"] != "instant"]
    if later:
        await repository.queue_for_digests(connection, later, job.job_id)
    instant = {m["candidate_id"]: m for m in matches if m["alert_frequency"] == "instant"}
    if not instant:
        return
    # A constant number of round trips however many candidates match: claim, then record.
    delivery_ids = {candidate_id: uuid4() for candidate_id in instant}
    claimed = await repository.claim_job_for(connection, job.job_id, delivery_ids)
    await repository.insert_deliveries(
        connection,
        [
            _job_alert(emails, instant[candidate_id], delivery_ids[candidate_id], job.job_id)
            for candidate_id in claimed
        ],
    )


def _job_alert(
    emails: Emails, match: asyncpg.Record, delivery_id: UUID, job_id: UUID
) -> repository.NewDelivery:
    content = emails.job_list(
        candidate_id=match["candidate_id"], first_name=match["first_name"], jobs=[match]
    )
    return repository.NewDelivery(
        delivery_id=delivery_id,
        dedup_key=f"job-alert:{match['candidate_id']}:{job_id}",
        candidate_id=match["candidate_id"],
        kind="job_alert",
        to_address=match["email"],
        content=content,
        job_ids=[job_id],
    )


async def _record_job_email(
    connection: Connection,
    emails: Emails,
    recipient: Recipient,
    jobs: Sequence[asyncpg.Record],
    *,
    dedup_key: str,
    digest_period: str | None = None,
) -> bool:
    """Record an alert (or digest) of the jobs never sent to the recipient; ``False`` when there
    is nothing new to send or this email exists already."""
    delivery_id = uuid4()
    claimed = await repository.claim_jobs(
        connection, recipient.candidate_id, [job["job_id"] for job in jobs], delivery_id
    )
    if not claimed:
        return False
    fresh = [job for job in jobs if job["job_id"] in claimed]
    content = emails.job_list(
        candidate_id=recipient.candidate_id,
        first_name=recipient.first_name,
        jobs=fresh,
        digest_period=digest_period,
    )
    kind = "digest" if digest_period else "job_alert"
    recorded = await _record(
        connection, recipient, kind, dedup_key, content, claimed, delivery_id=delivery_id
    )
    if not recorded:
        await connection.execute("DELETE FROM alerted_jobs WHERE delivery_id = $1", delivery_id)
    return recorded


async def _record(
    connection: Connection,
    recipient: Recipient,
    kind: str,
    dedup_key: str,
    content: RenderedEmail,
    job_ids: list[UUID],
    *,
    delivery_id: UUID | None = None,
) -> bool:
    return await repository.insert_delivery(
        connection,
        repository.NewDelivery(
            delivery_id=delivery_id or uuid4(),
            dedup_key=dedup_key,
            candidate_id=recipient.candidate_id,
            kind=kind,
            to_address=recipient.email,
            content=content,
            job_ids=job_ids,
        ),
    )


async def record_due_digests(
    *, pool: Pool, emails: Emails, frequency: str, period_key: str, max_jobs: int
) -> int:
    """Record this period's digest for every ``frequency`` subscriber with something new.

    One digest per candidate per period (the dedup key holds the period), so two replicas, or
    two runs, never send a second; nothing new, nothing sent. Returns how many were recorded.
    """
    recorded = 0
    async with pool.acquire() as connection:
        candidates = await repository.digest_candidates(connection, frequency, period_key)
    for candidate in candidates:
        recipient = Recipient(*(candidate[k] for k in ("candidate_id", "email", "first_name")))
        async with pool.acquire() as connection, connection.transaction():
            await repository.lock_matching(connection)  # not beside an unsubscribe or erasure
            jobs = await repository.queued_jobs_matching(
                connection, recipient.candidate_id, limit=max_jobs
            )
            if await _record_job_email(
                connection,
                emails,
                recipient,
                jobs,
                dedup_key=f"digest:{recipient.candidate_id}:{period_key}",
                digest_period=frequency,
            ):
                recorded += 1
            await repository.clear_digest_queue(connection, recipient.candidate_id)
    if recorded:
        log.info("digests recorded", frequency=frequency, period=period_key, count=recorded)
    return recorded


async def deliveries_to(*, pool: Pool, email: str) -> list[asyncpg.Record]:
    async with pool.acquire() as connection:
        return await repository.deliveries_to(connection, email)
