"""What the signup service does with its candidates, as plain async functions (signing up is
:mod:`talent_signup.signups`); HTTP handlers only call these."""

import hashlib
import hmac
from datetime import UTC, datetime
from uuid import UUID, uuid4

import asyncpg

from talent_shared.db import Connection, Pool
from talent_shared.envelope import new_event
from talent_shared.events import (
    CandidateErased,
    CandidatePreferencesChanged,
    CandidateUnsubscribed,
    EventData,
)
from talent_shared.logging import get_logger
from talent_shared.outbox import OutboxRelay, enqueue
from talent_signup import rate_limits, repository
from talent_signup.errors import CandidateNotFoundError
from talent_signup.models import (
    Candidate,
    Consent,
    PreferenceCenter,
    Preferences,
)

PRODUCER = "signup"

log = get_logger(__name__)


async def emit(connection: Connection, data: EventData, correlation_id: str) -> None:
    await enqueue(connection, new_event(data, producer=PRODUCER, correlation_id=correlation_id))


def email_hash(email: str, *, secret: str) -> str:
    """A keyed hash of the address: recognises it again without keeping it."""
    return hmac.new(
        f"erasure:{secret}".encode(), email.lower().encode(), hashlib.sha256
    ).hexdigest()


def preferences_of(row: asyncpg.Record) -> Preferences:
    return Preferences(
        interests=row["interests"],
        locations=row["locations"],
        keywords=row["keywords"],
        alert_frequency=row["alert_frequency"],
    )


async def get_candidate(*, pool: Pool, candidate_id: UUID) -> Candidate:
    async with pool.acquire() as connection:
        row = await repository.fetch_candidate(connection, candidate_id)
        if row is None:
            raise CandidateNotFoundError(candidate_id)
        consents = await repository.fetch_consents(connection, candidate_id)
    return Candidate(
        **{k: row[k] for k in Candidate.model_fields if k not in ("preferences", "consents")},
        preferences=preferences_of(row),
        consents=[Consent.model_validate(dict(consent)) for consent in consents],
    )


def masked_email(email: str) -> str:
    """``jane@example.org`` -> ``j***@example.org``: enough to recognise, too little to harvest."""
    local_part, _, domain = email.rpartition("@")
    return f"{local_part[:1]}***@{domain}"


async def preference_center(*, pool: Pool, candidate_id: UUID) -> PreferenceCenter:
    async with pool.acquire() as connection:
        row = await repository.fetch_candidate(connection, candidate_id)
    if row is None:
        raise CandidateNotFoundError(candidate_id)
    return PreferenceCenter(
        candidate_id=candidate_id,
        email=masked_email(row["email"]),
        first_name=row["first_name"],
        subscribed=row["status"] == "subscribed",
        **preferences_of(row).model_dump(),
    )


async def change_preferences(
    relay: OutboxRelay, candidate_id: UUID, preferences: Preferences, correlation_id: str
) -> Preferences:
    async with relay.transaction() as connection:
        row = await repository.update_preferences(connection, candidate_id, preferences)
        if row is None:
            raise CandidateNotFoundError(candidate_id)
        await emit(
            connection,
            CandidatePreferencesChanged(
                candidate_id=candidate_id,
                subscribed=row["status"] == "subscribed",
                **preferences.model_dump(),
            ),
            correlation_id,
        )
    return preferences_of(row)


async def unsubscribe(relay: OutboxRelay, candidate_id: UUID, correlation_id: str) -> None:
    """Stop all alerts and digests; idempotent (a second call changes and emits nothing)."""
    async with relay.transaction() as connection:
        row = await repository.unsubscribe(connection, candidate_id)
        if row is None:
            if await repository.fetch_candidate(connection, candidate_id) is not None:
                return  # already unsubscribed
            if await repository.was_erased(connection, candidate_id):
                return  # nothing left to unsubscribe
            raise CandidateNotFoundError(candidate_id)
        await emit(
            connection,
            CandidateUnsubscribed(
                candidate_id=candidate_id, unsubscribed_at=row["unsubscribed_at"]
            ),
            correlation_id,
        )
    log.info("candidate unsubscribed", candidate_id=str(candidate_id))


async def erase(
    relay: OutboxRelay, candidate_id: UUID, correlation_id: str, *, secret: str
) -> None:
    """Delete every piece of the candidate's personal data here and tell the other services.

    Idempotent: erasing an erased candidate succeeds and changes nothing.
    """
    async with relay.transaction() as connection:
        if not await _erase_in(connection, candidate_id, secret, correlation_id):
            if await repository.was_erased(connection, candidate_id):
                return
            raise CandidateNotFoundError(candidate_id)
    log.info("candidate erased", candidate_id=str(candidate_id))


async def _erase_in(
    connection: Connection, candidate_id: UUID, secret: str, correlation_id: str
) -> bool:
    """Erase inside the caller's transaction; False when there is no such candidate."""
    deleted = await repository.delete_candidate(connection, candidate_id)
    if deleted is None:
        return False
    email, visitor_ids = deleted
    await repository.record_erasure(connection, candidate_id, email_hash(email, secret=secret))
    await repository.scrub_outbox(connection, candidate_id)
    erased = CandidateErased(
        candidate_id=candidate_id, erased_at=datetime.now(UTC), visitor_ids=visitor_ids
    )
    await emit(connection, erased, correlation_id)
    return True


async def erase_expired_pending(
    relay: OutboxRelay, *, secret: str, max_age_seconds: float, limit: int
) -> int:
    """Erase sign-ups left unconfirmed for ``max_age_seconds``, as an admin erasure would;
    returns how many. Safe on several replicas at once (locked rows are skipped)."""
    async with relay.transaction() as connection:
        expired = await erase_expired_pending_in(
            connection, secret=secret, max_age_seconds=max_age_seconds, limit=limit
        )
    if expired:
        log.info("unconfirmed sign-ups erased", count=len(expired))
    return len(expired)


async def erase_expired_pending_in(
    connection: Connection, *, secret: str, max_age_seconds: float, limit: int
) -> list[UUID]:
    """The sweep inside the caller's transaction. A sign-up being confirmed right now is locked
    by its confirmation, so it is skipped; one this erases, a confirmation waits for and then
    finds gone."""
    expired = await repository.lock_expired_pending(
        connection, max_age_seconds=max_age_seconds, limit=limit
    )
    for candidate_id in expired:
        await _erase_in(connection, candidate_id, secret, f"expired-pending:{uuid4()}")
    return expired


async def prune_rate_limits(*, pool: Pool) -> int:
    async with pool.acquire() as connection:
        return await rate_limits.prune(connection)
