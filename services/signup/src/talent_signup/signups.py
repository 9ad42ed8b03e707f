"""Signing up, and who may change a membership.

A new address becomes a candidate at once (or a pending one, with double opt-in). An address that
already belongs to a candidate changes nothing by itself, whoever sends it: the request is kept,
and one email goes to that address, at most one an hour: "confirm these changes" (its link is
bound to the kept request), or "you are already a member" when nothing would change. Only the
link's POST applies the changes, once. So knowing someone's address gives no power over them.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from talent_shared.db import Connection, Pool
from talent_shared.events import (
    CandidateChangeRequested,
    CandidateChangesConfirmed,
    CandidateConfirmationRequested,
    CandidateSignedUp,
    CandidateSignupRepeated,
)
from talent_shared.logging import get_logger
from talent_shared.outbox import OutboxRelay
from talent_signup import rate_limits, repository
from talent_signup.errors import RateLimitedError, SignupGoneError
from talent_signup.models import Change, Preferences, SignupRequest
from talent_signup.service import emit, preferences_of

CONSENT_SOURCE_FORM = "form"
ONE_EMAIL_PER_SECONDS = 3600  # "confirm these changes" or "already a member", per address
# What a repeat sign-up may change, in the order the confirmation page lists them.
CHANGEABLE = ("first_name", "last_name", "phone", *Preferences.model_fields)

log = get_logger(__name__)


@dataclass(frozen=True)
class SignupLimits:
    """The rate limits a sign-up is counted against (per client address and per email)."""

    client: str
    per_ip: rate_limits.RateLimit
    per_email: rate_limits.RateLimit
    secret: str

    def counters(self, email: str) -> list[rate_limits.Counter]:
        return [
            rate_limits.Counter("ip", rate_limits.client_key(self.client), self.per_ip),
            rate_limits.Counter(
                "email", rate_limits.email_key(email, secret=self.secret), self.per_email
            ),
        ]


@dataclass(frozen=True)
class SignedUp:
    candidate_id: UUID
    created: bool
    status: str


async def sign_up(
    relay: OutboxRelay,
    request: SignupRequest,
    correlation_id: str,
    *,
    limits: SignupLimits,
    consent_text_version: str,
    double_opt_in: bool = False,
) -> SignedUp:
    """Count the attempt against ``limits``, then create the candidate, or record a repeat
    sign-up of the existing one. One transaction: a refused attempt commits its count alone
    (then raises :class:`RateLimitedError`); an allowed one commits its count with its effect."""
    async with relay.transaction() as connection:
        retry_after = await rate_limits.hit(connection, limits.counters(request.email))
        if retry_after is None:
            outcome = await _new_candidate(
                connection, request, consent_text_version, correlation_id, double_opt_in
            ) or await _repeat(connection, request, consent_text_version, correlation_id)
    if retry_after is not None:
        raise RateLimitedError(retry_after)
    log.info(
        "candidate signed up",
        candidate_id=str(outcome.candidate_id),
        created=outcome.created,
        status=outcome.status,
    )
    return outcome


async def _new_candidate(
    connection: Connection,
    request: SignupRequest,
    consent_text_version: str,
    correlation_id: str,
    double_opt_in: bool,
) -> SignedUp | None:
    """The new candidate, its consent and its event; ``None`` when the address is taken."""
    row = await repository.insert_candidate(
        connection,
        candidate_id=uuid4(),
        email=request.email,
        visitor_id=request.visitor_id,
        status="pending" if double_opt_in else "subscribed",
        **request.model_dump(include=set(CHANGEABLE)),
    )
    if row is None:
        return None
    await repository.record_consent(
        connection,
        candidate_id=row["candidate_id"],
        text_version=consent_text_version,
        source=CONSENT_SOURCE_FORM,
        visitor_id=request.visitor_id,
    )
    if double_opt_in:
        requested = CandidateConfirmationRequested(**addressee(row), requested_at=row["created_at"])
        await emit(connection, requested, correlation_id)
    else:
        await emit(connection, signed_up(row, row["created_at"]), correlation_id)
    return SignedUp(row["candidate_id"], created=True, status=row["status"])


async def _repeat(
    connection: Connection, request: SignupRequest, consent_text_version: str, correlation_id: str
) -> SignedUp:
    """A sign-up for a taken address: nothing changes; the one email an hour is recorded."""
    current = await repository.lock_candidate_by_email(connection, request.email)
    if current is None:  # erased between the insert and this read: sign up again
        raise SignupGoneError()
    candidate_id: UUID = current["candidate_id"]
    answer = SignedUp(candidate_id, created=False, status="pending")
    if await repository.asked_within(connection, candidate_id, seconds=ONE_EMAIL_PER_SECONDS):
        return answer
    requested = {
        **request.model_dump(include=set(CHANGEABLE)),
        "visitor_id": request.visitor_id,
        "consent_text_version": consent_text_version,
    }
    changes = changes_between(current, requested)
    change_id = uuid4()
    at = await repository.insert_change_request(
        connection,
        change_id=change_id,
        candidate_id=candidate_id,
        requested=requested if changes else None,
    )
    email = current["email"]
    if changes:
        event: Any = CandidateChangeRequested(
            candidate_id=candidate_id, change_id=change_id, email=email, requested_at=at
        )
    else:
        event = CandidateSignupRepeated(candidate_id=candidate_id, email=email, repeated_at=at)
    await emit(connection, event, correlation_id)
    return answer


def changes_between(current: asyncpg.Record, requested: dict[str, Any]) -> list[Change]:
    """What applying ``requested`` would change, field by field; becoming subscribed again (or
    at last, for a pending sign-up) is a change too. A phone left out keeps the one there."""
    changes = [
        Change(field=name, current=current[name], requested=requested[name])
        for name in CHANGEABLE
        if current[name] != requested[name] and not (name == "phone" and requested[name] is None)
    ]
    if current["status"] != "subscribed":
        changes.append(Change(field="status", current=current["status"], requested="subscribed"))
    return changes


def addressee(row: asyncpg.Record) -> dict[str, Any]:
    """The fields of a candidate event that say whom it is about and how to write to them."""
    return {key: row[key] for key in ("candidate_id", "email", "first_name")}


def signed_up(row: asyncpg.Record, signed_up_at: datetime) -> CandidateSignedUp:
    return CandidateSignedUp(
        **addressee(row),
        last_name=row["last_name"],
        visitor_id=row["visitor_id"],
        signed_up_at=signed_up_at,
        **preferences_of(row).model_dump(),
    )


async def confirm(relay: OutboxRelay, candidate_id: UUID, correlation_id: str) -> str:
    """Confirm a pending sign-up: it becomes a member now, so ``CandidateSignedUp`` goes out
    (welcome, alerts). Idempotent: a confirmed candidate stays as it is; returns its status."""
    async with relay.transaction() as connection:
        row = await repository.confirm(connection, candidate_id)
        if row is None:
            current = await repository.fetch_candidate(connection, candidate_id)
            if current is not None:
                return str(current["status"])
            raise SignupGoneError()
        await emit(connection, signed_up(row, row["confirmed_at"]), correlation_id)
    log.info("sign-up confirmed", candidate_id=str(candidate_id))
    return "subscribed"


@dataclass(frozen=True)
class PendingChange:
    """What the changes email's link shows: each change, and whether it was applied already."""

    candidate_id: UUID
    changes: list[Change]
    applied: bool


async def pending_change(*, pool: Pool, change_id: UUID) -> PendingChange:
    async with pool.acquire() as connection:
        row = await repository.fetch_change_request(connection, change_id)
    if row is None:
        raise SignupGoneError()
    changes = changes_between(row, row["requested"])
    return PendingChange(row["candidate_id"], changes, applied=row["applied_at"] is not None)


async def apply_change(relay: OutboxRelay, change_id: UUID, correlation_id: str) -> UUID:
    """Apply a change request from its email's link, exactly once: the candidate gets what was
    asked for and is subscribed (again), with a consent confirmed now. A pending sign-up becomes a
    member (``CandidateSignedUp``); any other emits ``CandidateChangesConfirmed``."""
    async with relay.transaction() as connection:
        row = await repository.fetch_change_request(connection, change_id, for_update=True)
        if row is None:
            raise SignupGoneError()
        if row["applied_at"] is None:
            await _apply_in(connection, row, correlation_id)
    return UUID(str(row["candidate_id"]))


async def _apply_in(connection: Connection, change: asyncpg.Record, correlation_id: str) -> None:
    requested = change["requested"]
    row = await repository.apply_change_request(connection, change["change_id"], requested)
    await repository.record_consent(
        connection,
        candidate_id=row["candidate_id"],
        text_version=requested["consent_text_version"],
        source=CONSENT_SOURCE_FORM,
        visitor_id=requested["visitor_id"],
    )
    await repository.confirm_consents(connection, row["candidate_id"], row["confirmed_at"])
    if change["status"] == "pending":
        await emit(connection, signed_up(row, row["confirmed_at"]), correlation_id)
    else:
        confirmed = CandidateChangesConfirmed(
            **addressee(row),
            confirmed_at=row["confirmed_at"],
            **preferences_of(row).model_dump(),
        )
        await emit(connection, confirmed, correlation_id)
    log.info("changes confirmed", candidate_id=str(row["candidate_id"]))
