"""What the signup service does, as plain async functions; HTTP handlers only call these."""

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID, uuid4

import asyncpg

from talent_shared.db import Connection, Pool
from talent_shared.events import (
    CandidateConfirmationRequested,
    CandidateErased,
    CandidatePreferencesChanged,
    CandidateSignedUp,
    CandidateUnsubscribed,
    EventData,
    new_event,
)
from talent_shared.logging import get_logger
from talent_shared.outbox import OutboxRelay, enqueue
from talent_signup import rate_limits, repository
from talent_signup.models import (
    Candidate,
    Consent,
    PreferenceCenter,
    Preferences,
    SignupRequest,
)

PRODUCER = "signup"
CONSENT_SOURCE_FORM = "form"

log = get_logger(__name__)


class CandidateNotFoundError(LookupError):
    pass


class CandidateErasedError(LookupError):
    """The candidate was here and has been erased (by an admin, or unconfirmed for too long)."""


@dataclass(frozen=True)
class SignupLimits:
    """The rate limits a sign-up is counted against (per client address and per email)."""

    client: str
    per_ip: rate_limits.RateLimit
    per_email: rate_limits.RateLimit
    secret: str

    def counters(self, email: str) -> list[rate_limits.Counter]:
        return [
            rate_limits.Counter("ip", self.client, self.per_ip),
            rate_limits.Counter(
                "email", rate_limits.email_key(email, secret=self.secret), self.per_email
            ),
        ]


@dataclass(frozen=True)
class RateLimited:
    """The sign-up was refused and nothing written but its count: retry after this long."""

    retry_after_seconds: int


@dataclass(frozen=True)
class SignedUp:
    candidate_id: UUID
    created: bool
    status: str


async def _emit(connection: Connection, data: EventData, correlation_id: str) -> None:
    await enqueue(connection, new_event(data, producer=PRODUCER, correlation_id=correlation_id))


def email_hash(email: str, *, secret: str) -> str:
    """A keyed hash of the address: recognises it again without keeping it."""
    return hmac.new(
        f"erasure:{secret}".encode(), email.lower().encode(), hashlib.sha256
    ).hexdigest()


def _preferences(row: asyncpg.Record) -> Preferences:
    return Preferences(
        interests=row["interests"],
        locations=row["locations"],
        keywords=row["keywords"],
        alert_frequency=row["alert_frequency"],
    )


async def sign_up(
    *,
    pool: Pool,
    relay: OutboxRelay,
    request: SignupRequest,
    limits: SignupLimits,
    consent_text_version: str,
    correlation_id: str,
    double_opt_in: bool = False,
) -> SignedUp | RateLimited:
    """Count the attempt against ``limits``, then create the candidate, or update the one with
    this email. One transaction, one commit: a refused attempt commits its count alone; an
    allowed one commits its count with the candidate, the consent and the outbox row.

    ``CandidateSignedUp`` (and so the welcome email) is emitted only for a new candidate; a repeat
    sign-up emits ``CandidatePreferencesChanged``. With ``double_opt_in`` a new candidate is
    pending and only ``CandidateConfirmationRequested`` is emitted; a pending candidate signing up
    again has its preferences updated and emits nothing (its one confirmation email is out).
    """
    preferences = request.model_dump(include=set(Preferences.model_fields))
    async with pool.acquire() as connection, connection.transaction():
        retry_after = await rate_limits.hit(connection, limits.counters(request.email))
        if retry_after is not None:
            return RateLimited(retry_after)
        result = await repository.upsert_candidate(
            connection,
            candidate_id=uuid4(),
            email=request.email,
            first_name=request.first_name,
            last_name=request.last_name,
            phone=request.phone,
            visitor_id=request.visitor_id,
            status="pending" if double_opt_in else "subscribed",
            **preferences,
        )
        row = result.row
        candidate_id: UUID = row["candidate_id"]
        await repository.record_consent(
            connection,
            candidate_id=candidate_id,
            text_version=consent_text_version,
            source=CONSENT_SOURCE_FORM,
            visitor_id=request.visitor_id,
        )
        data = _sign_up_event(row, created=result.created)
        if data is not None:
            await _emit(connection, data, correlation_id)
    relay.wake()
    log.info(
        "candidate signed up",
        candidate_id=str(candidate_id),
        created=result.created,
        status=row["status"],
    )
    return SignedUp(candidate_id, result.created, row["status"])


def _signed_up(row: asyncpg.Record, signed_up_at: datetime) -> CandidateSignedUp:
    return CandidateSignedUp(
        candidate_id=row["candidate_id"],
        email=row["email"],
        first_name=row["first_name"],
        last_name=row["last_name"],
        visitor_id=row["visitor_id"],
        signed_up_at=signed_up_at,
        **_preferences(row).model_dump(),
    )


def _sign_up_event(row: asyncpg.Record, *, created: bool) -> EventData | None:
    if row["status"] == "pending":
        if not created:
            return None
        return CandidateConfirmationRequested(
            candidate_id=row["candidate_id"],
            email=row["email"],
            first_name=row["first_name"],
            requested_at=row["created_at"],
        )
    if created:
        return _signed_up(row, row["created_at"])
    return CandidatePreferencesChanged(
        candidate_id=row["candidate_id"], subscribed=True, **_preferences(row).model_dump()
    )


async def confirm(
    *, pool: Pool, relay: OutboxRelay, candidate_id: UUID, correlation_id: str
) -> str:
    """Confirm a pending sign-up: it becomes a member now, so ``CandidateSignedUp`` goes out
    (welcome, alerts). Idempotent: a confirmed candidate stays as it is; returns its status."""
    async with pool.acquire() as connection, connection.transaction():
        row = await repository.confirm(connection, candidate_id)
        if row is None:
            current = await repository.fetch_candidate(connection, candidate_id)
            if current is not None:
                return str(current["status"])
            if await repository.was_erased(connection, candidate_id):
                raise CandidateErasedError(candidate_id)
            raise CandidateNotFoundError(candidate_id)
        await _emit(connection, _signed_up(row, row["confirmed_at"]), correlation_id)
    relay.wake()
    log.info("sign-up confirmed", candidate_id=str(candidate_id))
    return "subscribed"


async def get_candidate(*, pool: Pool, candidate_id: UUID) -> Candidate:
    async with pool.acquire() as connection:
        row = await repository.fetch_candidate(connection, candidate_id)
        if row is None:
            raise CandidateNotFoundError(candidate_id)
        consents = await repository.fetch_consents(connection, candidate_id)
    return Candidate(
        **{k: row[k] for k in Candidate.model_fields if k not in ("preferences", "consents")},
        preferences=_preferences(row),
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
        **_preferences(row).model_dump(),
    )


async def change_preferences(
    *,
    pool: Pool,
    relay: OutboxRelay,
    candidate_id: UUID,
    preferences: Preferences,
    correlation_id: str,
) -> Preferences:
    async with pool.acquire() as connection, connection.transaction():
        row = await repository.update_preferences(
            connection, candidate_id, **preferences.model_dump()
        )
        if row is None:
            raise CandidateNotFoundError(candidate_id)
        await _emit(
            connection,
            CandidatePreferencesChanged(
                candidate_id=candidate_id,
                subscribed=row["status"] == "subscribed",
                **preferences.model_dump(),
            ),
            correlation_id,
        )
    relay.wake()
    return _preferences(row)


async def unsubscribe(
    *, pool: Pool, relay: OutboxRelay, candidate_id: UUID, correlation_id: str
) -> None:
    """Stop all alerts and digests; idempotent (a second call changes and emits nothing)."""
    async with pool.acquire() as connection, connection.transaction():
        row = await repository.unsubscribe(connection, candidate_id)
        if row is None:
            if await repository.fetch_candidate(connection, candidate_id) is not None:
                return  # already unsubscribed
            if await repository.was_erased(connection, candidate_id):
                return  # nothing left to unsubscribe
            raise CandidateNotFoundError(candidate_id)
        await _emit(
            connection,
            CandidateUnsubscribed(
                candidate_id=candidate_id, unsubscribed_at=row["unsubscribed_at"]
            ),
            correlation_id,
        )
    relay.wake()
    log.info("candidate unsubscribed", candidate_id=str(candidate_id))


async def erase(
    *, pool: Pool, relay: OutboxRelay, candidate_id: UUID, secret: str, correlation_id: str
) -> None:
    """Delete every piece of the candidate's personal data here and tell the other services.

    Idempotent: erasing an erased candidate succeeds and changes nothing.
    """
    async with pool.acquire() as connection, connection.transaction():
        if not await _erase_in(connection, candidate_id, secret, correlation_id):
            if await repository.was_erased(connection, candidate_id):
                return
            raise CandidateNotFoundError(candidate_id)
    relay.wake()
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
    await _emit(connection, erased, correlation_id)
    return True


async def erase_expired_pending(
    *, pool: Pool, relay: OutboxRelay, secret: str, max_age_seconds: float, limit: int
) -> int:
    """Erase sign-ups left unconfirmed for ``max_age_seconds``, as an admin erasure would;
    returns how many. Safe on several replicas at once (locked rows are skipped)."""
    async with pool.acquire() as connection, connection.transaction():
        expired = await erase_expired_pending_in(
            connection, secret=secret, max_age_seconds=max_age_seconds, limit=limit
        )
    if expired:
        relay.wake()
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
