"""What the notifications service does with candidate events (talent.candidates.v1).

A batch is applied in one transaction that shares the matching barrier and holds the locks of
its candidates (see :mod:`.locks`), with the inbox, so a redelivered event changes nothing and
sends nothing. Each event type has one handler (:data:`EVENTS`); a run of consecutive events of
one type is handled together, so a burst of sign-ups takes a constant number of round trips.
Emails are only recorded here; the delivery worker sends them.
"""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar
from uuid import UUID, uuid4

from talent_notifications import delivery_log, locks, queues, repository
from talent_notifications.emails import (
    ALREADY_MEMBER,
    CHANGE_CONFIRMATION,
    CONFIRMATION,
    Emails,
    RenderedEmail,
)
from talent_notifications.recording import Recipient, record, record_job_email
from talent_shared.consumers import EventRouter
from talent_shared.db import Connection, Pool
from talent_shared.envelope import Event
from talent_shared.events import (
    CandidateChangeRequested,
    CandidateChangesConfirmed,
    CandidateConfirmationRequested,
    CandidateErased,
    CandidateEvent,
    CandidatePreferencesChanged,
    CandidateSignedUp,
    CandidateSignupRepeated,
    CandidateUnsubscribed,
    EventData,
)
from talent_shared.inbox import first_deliveries
from talent_shared.tracing import handling

D = TypeVar("D", bound=EventData)

# Jobs changed after a preference change but matched before it arrived: a lag window, so few.
MAX_CATCH_UP_JOBS = 50


@dataclass(frozen=True)
class Batch:
    """What the handlers of a batch work with: its transaction and the consumer's settings."""

    connection: Connection
    emails: Emails
    consumer: str
    max_jobs: int
    window_seconds: float


EVENTS = EventRouter[Batch]()


async def apply_candidate_events(
    *, pool: Pool, batch: Callable[[Connection], Batch], events: Sequence[Event[EventData]]
) -> None:
    """Apply a batch in one transaction, each event once (inbox, one round trip per batch)."""
    async with pool.acquire() as connection, connection.transaction():
        await apply_candidate_events_in(batch(connection), events)


async def apply_candidate_events_in(batch: Batch, events: Sequence[Event[EventData]]) -> None:
    """Apply a batch inside the caller's open transaction: the barrier shared and the batch's
    candidates locked until it ends."""
    connection = batch.connection
    await locks.share_barrier(connection)
    await locks.lock_candidates(
        connection, [e.data.candidate_id for e in events if isinstance(e.data, CandidateEvent)]
    )
    fresh = await first_deliveries(
        connection, consumer=batch.consumer, event_ids=[event.event_id for event in events]
    )
    firsts = []
    for event in events:
        if event.event_id in fresh:
            fresh.discard(event.event_id)  # a repeat within the batch is applied once
            firsts.append(event)
    await EVENTS.route(batch, firsts)


def each_in_its_trace(
    apply: Callable[[Batch, Event[D]], Awaitable[None]],
) -> Callable[[Batch, Sequence[Event[D]]], Awaitable[None]]:
    """A handler applying a run's events one at a time, each in the trace it arrived with."""

    async def apply_each(batch: Batch, events: Sequence[Event[D]]) -> None:
        for event in events:
            with handling(event, batch.consumer):
                await apply(batch, event)

    return apply_each


@EVENTS.on(CandidateSignedUp)
async def _signed_up(batch: Batch, events: Sequence[Event[CandidateSignedUp]]) -> None:
    """Sign-ups: the subscribers and their welcomes in one round trip each; the open jobs that
    match already wait for an instant subscriber's first alert, or go in one alert email to a
    daily or weekly one."""
    connection = batch.connection
    # A replay of an erased candidate's sign-up must not bring them back.
    erased = await repository.erased_among(connection, [e.data.candidate_id for e in events])
    kept = [event for event in events if event.data.candidate_id not in erased]
    await repository.upsert_subscribers(connection, [event.data for event in kept])
    welcomes = []
    for event in kept:
        with handling(event, batch.consumer):  # the email continues the sign-up's trace
            welcomes.append(_welcome(batch.emails, event.data))
    await delivery_log.insert_deliveries(connection, welcomes)
    instant = [e.data.candidate_id for e in kept if e.data.alert_frequency == "instant"]
    await repository.queue_open_jobs(connection, instant, window_seconds=batch.window_seconds)
    for event in kept:
        if event.data.alert_frequency in ("daily", "weekly"):
            with handling(event, batch.consumer):
                data = event.data
                await _alert_open_jobs(
                    batch, Recipient(data.candidate_id, data.email, data.first_name)
                )


async def _alert_open_jobs(batch: Batch, recipient: Recipient) -> None:
    jobs = await repository.open_jobs_matching(
        batch.connection, recipient.candidate_id, limit=batch.max_jobs
    )
    if jobs:
        await record_job_email(
            batch.connection,
            batch.emails,
            recipient,
            jobs,
            dedup_key=f"signup-alert:{recipient.candidate_id}",
        )


def _welcome(emails: Emails, data: CandidateSignedUp) -> delivery_log.NewDelivery:
    content = emails.welcome(
        candidate_id=data.candidate_id, first_name=data.first_name, frequency=data.alert_frequency
    )
    return delivery_log.NewDelivery(
        delivery_id=uuid4(),
        dedup_key=f"welcome:{data.candidate_id}",
        candidate_id=data.candidate_id,
        kind="welcome",
        to_address=data.email,
        content=content,
        job_ids=[],
    )


# The events that ask for one email to the address they carry.
OneOffEmailEvent = (
    CandidateConfirmationRequested | CandidateChangeRequested | CandidateSignupRepeated
)


async def _email_unless_erased(
    batch: Batch,
    about: OneOffEmailEvent,
    kind: str,
    dedup_key: str,
    content: RenderedEmail,
    first_name: str = "",
) -> None:
    """Record one email to the address ``about`` carries (once per ``dedup_key``), unless the
    candidate is erased."""
    if not await repository.is_erased(batch.connection, about.candidate_id):
        recipient = Recipient(about.candidate_id, about.email, first_name)
        await record(batch.connection, recipient, kind, dedup_key, content)


@EVENTS.on(CandidateConfirmationRequested)
@each_in_its_trace
async def _confirmation_requested(
    batch: Batch, event: Event[CandidateConfirmationRequested]
) -> None:
    """Double opt-in: one confirmation email per candidate. It is not a member yet, so nothing
    else is kept: ``CandidateSignedUp`` follows the confirmation."""
    data = event.data
    content = batch.emails.confirmation(candidate_id=data.candidate_id, first_name=data.first_name)
    key = f"confirmation:{data.candidate_id}"
    await _email_unless_erased(batch, data, CONFIRMATION, key, content, data.first_name)


@EVENTS.on(CandidateChangeRequested)
@each_in_its_trace
async def _change_requested(batch: Batch, event: Event[CandidateChangeRequested]) -> None:
    """A repeat sign-up asked for changes: the "confirm these changes" email, one per request."""
    content = batch.emails.change_confirmation(change_id=event.data.change_id)
    key = f"change:{event.data.change_id}"
    await _email_unless_erased(batch, event.data, CHANGE_CONFIRMATION, key, content)


@EVENTS.on(CandidateSignupRepeated)
@each_in_its_trace
async def _signup_repeated(batch: Batch, event: Event[CandidateSignupRepeated]) -> None:
    """A repeat sign-up that would change nothing: the "already a member" email."""
    repeat = event.data
    content = batch.emails.already_member(candidate_id=repeat.candidate_id)
    key = f"repeat:{repeat.candidate_id}:{repeat.repeated_at.isoformat()}"
    await _email_unless_erased(batch, repeat, ALREADY_MEMBER, key, content)


@EVENTS.on(CandidatePreferencesChanged)
@each_in_its_trace
async def _preferences_changed(batch: Batch, event: Event[CandidatePreferencesChanged]) -> None:
    """Apply new preferences, then catch up on the jobs the jobs consumer matched against the
    old ones (see :func:`_catch_up`)."""
    data = event.data
    subscriber = await repository.update_preferences(batch.connection, data)
    # An erased (or never seen) candidate has no row: nothing is updated, nothing follows.
    if subscriber is not None and subscriber["subscribed"]:
        await _catch_up(batch, data.candidate_id, data.alert_frequency, event.envelope.occurred_at)


@EVENTS.on(CandidateChangesConfirmed)
@each_in_its_trace
async def _changes_confirmed(batch: Batch, event: Event[CandidateChangesConfirmed]) -> None:
    """Changes confirmed from the changes email: the subscriber as they now are, subscribed,
    and their address no longer suppressed (following the link proved it reads its mail)."""
    data = event.data
    if await repository.is_erased(batch.connection, data.candidate_id):
        return
    await repository.upsert_subscribers(batch.connection, [data])
    await delivery_log.lift_suppression(batch.connection, data.email)
    await _catch_up(batch, data.candidate_id, data.alert_frequency, event.envelope.occurred_at)


async def _catch_up(batch: Batch, candidate_id: UUID, frequency: str, changed_at: datetime) -> None:
    """Jobs posted or updated after the change that the jobs consumer matched against the old
    preferences, because this event arrived later: the outcome is the same whichever topic's
    event is consumed first."""
    connection = batch.connection
    if frequency == "instant":
        await repository.queue_open_jobs(
            connection,
            [candidate_id],
            window_seconds=batch.window_seconds,
            changed_since=changed_at,
        )
    elif frequency != "never":
        jobs = await repository.open_jobs_matching(
            connection, candidate_id, limit=MAX_CATCH_UP_JOBS, changed_since=changed_at
        )
        job_ids = [job["job_id"] for job in jobs]
        await queues.queue_jobs_for_digest(connection, candidate_id, job_ids)


@EVENTS.on(CandidateUnsubscribed)
@each_in_its_trace
async def _unsubscribed(batch: Batch, event: Event[CandidateUnsubscribed]) -> None:
    await repository.unsubscribe(batch.connection, event.data.candidate_id)


@EVENTS.on(CandidateErased)
@each_in_its_trace
async def _erased(batch: Batch, event: Event[CandidateErased]) -> None:
    await repository.erase(batch.connection, event.data.candidate_id)
