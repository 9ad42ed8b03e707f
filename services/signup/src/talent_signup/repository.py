"""SQL of the signup service. Functions take a connection so callers choose the transaction."""

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from talent_shared.db import Connection
from talent_signup.models import Preferences

CANDIDATE_COLUMNS = """candidate_id, email, first_name, last_name, phone, interests, locations,
                       keywords, alert_frequency, status, visitor_id, created_at, updated_at,
                       unsubscribed_at"""


async def insert_candidate(
    connection: Connection,
    *,
    candidate_id: UUID,
    email: str,
    first_name: str,
    last_name: str,
    phone: str | None,
    interests: list[str],
    locations: list[str],
    keywords: list[str],
    alert_frequency: str,
    visitor_id: str | None,
    status: str = "subscribed",
) -> asyncpg.Record | None:
    """Insert a new candidate (``status``: 'pending' when it must confirm first); ``None`` when
    the address (in any case) belongs to a candidate already. The unique email_key decides, not
    a read before the write, so concurrent sign-ups of one address make one candidate."""
    return await connection.fetchrow(
        f"""INSERT INTO candidates (candidate_id, email, email_key, first_name, last_name,
                phone, interests, locations, keywords, alert_frequency, visitor_id, status)
            VALUES ($1, $2, lower($2), $3, $4, $5, $6, $7, $8, $9, $10, $11)
            ON CONFLICT (email_key) DO NOTHING
            RETURNING {CANDIDATE_COLUMNS}""",
        candidate_id,
        email,
        first_name,
        last_name,
        phone,
        interests,
        locations,
        keywords,
        alert_frequency,
        visitor_id,
        status,
    )


async def lock_candidate_by_email(connection: Connection, email: str) -> asyncpg.Record | None:
    """The candidate with this address (any case), locked until the transaction ends: a sign-up
    inserting it meanwhile is waited for."""
    return await connection.fetchrow(
        f"SELECT {CANDIDATE_COLUMNS} FROM candidates WHERE email_key = lower($1) FOR UPDATE",
        email,
    )


async def asked_within(connection: Connection, candidate_id: UUID, *, seconds: float) -> bool:
    """Whether a repeat sign-up of this candidate was recorded (and so emailed) that recently."""
    return bool(
        await connection.fetchval(
            """SELECT true FROM change_requests
               WHERE candidate_id = $1
                 AND requested_at > clock_timestamp() - make_interval(secs => $2)
               LIMIT 1""",
            candidate_id,
            seconds,
        )
    )


async def insert_change_request(
    connection: Connection,
    *,
    change_id: UUID,
    candidate_id: UUID,
    requested: dict[str, Any] | None,
) -> datetime:
    """Record a repeat sign-up: what it asked for (``None``: nothing would change)."""
    requested_at: datetime = await connection.fetchval(
        """INSERT INTO change_requests (change_id, candidate_id, requested)
           VALUES ($1, $2, $3) RETURNING requested_at""",
        change_id,
        candidate_id,
        requested,
    )
    return requested_at


async def fetch_change_request(
    connection: Connection, change_id: UUID, *, for_update: bool = False
) -> asyncpg.Record | None:
    """The change request and the candidate's current row (prefixed ``current_``)."""
    lock = " FOR UPDATE OF r, c" if for_update else ""
    return await connection.fetchrow(
        f"""SELECT r.change_id, r.requested, r.requested_at, r.applied_at,
                   c.candidate_id, c.email, c.first_name, c.last_name, c.phone, c.interests,
                   c.locations, c.keywords, c.alert_frequency, c.status, c.visitor_id
            FROM change_requests AS r JOIN candidates AS c USING (candidate_id)
            WHERE r.change_id = $1 AND r.requested IS NOT NULL{lock}""",
        change_id,
    )


async def apply_change_request(
    connection: Connection, change_id: UUID, requested: dict[str, Any]
) -> asyncpg.Record:
    """Give the candidate what the request asked for, subscribed; mark the request applied."""
    row = await connection.fetchrow(
        """WITH applied AS (
                UPDATE change_requests SET applied_at = clock_timestamp()
                WHERE change_id = $1 RETURNING candidate_id
            )
            UPDATE candidates AS c SET
                first_name = $2, last_name = $3, phone = coalesce($4, c.phone),
                interests = $5, locations = $6, keywords = $7, alert_frequency = $8,
                visitor_id = coalesce($9, c.visitor_id), status = 'subscribed',
                unsubscribed_at = NULL, updated_at = clock_timestamp()
            FROM applied WHERE c.candidate_id = applied.candidate_id
            RETURNING c.*, clock_timestamp() AS confirmed_at""",
        change_id,
        requested["first_name"],
        requested["last_name"],
        requested.get("phone"),
        requested["interests"],
        requested["locations"],
        requested["keywords"],
        requested["alert_frequency"],
        requested.get("visitor_id"),
    )
    assert row is not None
    return row


async def record_consent(
    connection: Connection,
    *,
    candidate_id: UUID,
    text_version: str,
    source: str,
    visitor_id: str | None,
) -> None:
    await connection.execute(
        """INSERT INTO consents (candidate_id, text_version, source, visitor_id)
           VALUES ($1, $2, $3, $4)""",
        candidate_id,
        text_version,
        source,
        visitor_id,
    )


async def confirm_consents(connection: Connection, candidate_id: UUID, at: datetime) -> None:
    """The consents the candidate gave are confirmed: they followed a link in an email."""
    await connection.execute(
        """UPDATE consents SET confirmed_at = $2
           WHERE candidate_id = $1 AND confirmed_at IS NULL""",
        candidate_id,
        at,
    )


async def fetch_candidate(
    connection: Connection, candidate_id: UUID, *, for_update: bool = False
) -> asyncpg.Record | None:
    lock = " FOR UPDATE" if for_update else ""
    return await connection.fetchrow(
        f"SELECT {CANDIDATE_COLUMNS} FROM candidates WHERE candidate_id = $1{lock}", candidate_id
    )


async def fetch_consents(connection: Connection, candidate_id: UUID) -> list[asyncpg.Record]:
    return await connection.fetch(
        """SELECT given_at, text_version, source, visitor_id, confirmed_at FROM consents
           WHERE candidate_id = $1 ORDER BY given_at""",
        candidate_id,
    )


async def update_preferences(
    connection: Connection, candidate_id: UUID, preferences: Preferences
) -> asyncpg.Record | None:
    p = preferences
    return await connection.fetchrow(
        UPDATE_PREFERENCES, candidate_id, p.interests, p.locations, p.keywords, p.alert_frequency
    )


UPDATE_PREFERENCES = f"""UPDATE candidates SET interests = $2, locations = $3, keywords = $4,
                alert_frequency = $5, updated_at = clock_timestamp()
         WHERE candidate_id = $1 RETURNING {CANDIDATE_COLUMNS}"""


async def confirm(connection: Connection, candidate_id: UUID) -> asyncpg.Record | None:
    """Confirm a pending candidate and the consents they gave; ``None`` when not pending."""
    row = await connection.fetchrow(
        f"""UPDATE candidates SET status = 'subscribed', updated_at = clock_timestamp()
            WHERE candidate_id = $1 AND status = 'pending'
            RETURNING {CANDIDATE_COLUMNS}, clock_timestamp() AS confirmed_at""",
        candidate_id,
    )
    if row is not None:
        await confirm_consents(connection, candidate_id, row["confirmed_at"])
    return row


async def lock_expired_pending(
    connection: Connection, *, max_age_seconds: float, limit: int
) -> list[UUID]:
    """Pending candidates older than ``max_age_seconds``, locked; another replica running the
    same sweep skips them instead of waiting."""
    rows = await connection.fetch(
        """SELECT candidate_id FROM candidates
           WHERE status = 'pending'
             AND created_at < clock_timestamp() - make_interval(secs => $1)
           ORDER BY created_at LIMIT $2
           FOR UPDATE SKIP LOCKED""",
        max_age_seconds,
        limit,
    )
    return [row["candidate_id"] for row in rows]


async def unsubscribe(connection: Connection, candidate_id: UUID) -> asyncpg.Record | None:
    """Mark a subscribed candidate unsubscribed; ``None`` when not subscribed (or unknown)."""
    return await connection.fetchrow(
        """UPDATE candidates SET status = 'unsubscribed', unsubscribed_at = clock_timestamp(),
                  updated_at = clock_timestamp()
           WHERE candidate_id = $1 AND status = 'subscribed'
           RETURNING unsubscribed_at""",
        candidate_id,
    )


async def delete_candidate(
    connection: Connection, candidate_id: UUID
) -> tuple[str, list[str]] | None:
    """Delete the candidate and their consents; returns the email and every visitor id they
    gave, or ``None`` when there is no such candidate."""
    row = await connection.fetchrow(
        """WITH visitors AS (
               SELECT visitor_id FROM candidates WHERE candidate_id = $1
               UNION SELECT visitor_id FROM consents WHERE candidate_id = $1
           ), deleted AS (
               DELETE FROM candidates WHERE candidate_id = $1 RETURNING email
           )
           SELECT email, ARRAY(SELECT visitor_id FROM visitors WHERE visitor_id IS NOT NULL)
                  AS visitor_ids
           FROM deleted""",
        candidate_id,
    )
    return (row["email"], row["visitor_ids"]) if row is not None else None


async def record_erasure(connection: Connection, candidate_id: UUID, email_hash: str) -> None:
    await connection.execute(
        "INSERT INTO erasures (candidate_id, email_hash) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        candidate_id,
        email_hash,
    )


async def was_erased(connection: Connection, candidate_id: UUID) -> bool:
    return bool(
        await connection.fetchval("SELECT true FROM erasures WHERE candidate_id = $1", candidate_id)
    )


async def scrub_outbox(connection: Connection, candidate_id: UUID) -> None:
    """Drop every outbox row of this candidate: they hold personal data. An event not published
    yet never will be, which is what erasure wants: consumers never learn of the candidate."""
    await connection.execute("DELETE FROM outbox WHERE message_key = $1", str(candidate_id))
