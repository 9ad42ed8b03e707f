"""SQL of the notifications service. Functions take a connection so callers choose the
transaction. Matching uses the SQL functions of migration 0002 (the contract's rules)."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

import asyncpg

from talent_notifications.emails import RenderedEmail
from talent_shared.db import Connection
from talent_shared.events import CandidateSignedUp, JobSnapshot
from talent_shared.tracing import TraceContext, current_trace_context

JOB_MATCH_COLUMNS = """j.job_id, j.title, j.category, j.location,
    matched_keyword(s.keywords, j.title, j.description) AS keyword"""
MATCHES = """job_matches(s.interests, s.locations, s.keywords,
                         j.category, j.location, j.title, j.description)"""
NOT_ALERTED = """NOT EXISTS (SELECT 1 FROM alerted_jobs AS a
                            WHERE a.candidate_id = s.candidate_id AND a.job_id = j.job_id)"""

# Taken by every transaction that changes or matches the subscribers and jobs replicas (see
# service.py): any constant no other lock of this database uses.
MATCHING_LOCK_ID = 7_461_722_101


async def lock_matching(connection: Connection) -> None:
    """Wait for, then hold until the transaction ends, the one lock of replica changes and
    matching. Its own statement, so the queries after it see what the previous holder committed."""
    await connection.execute("SELECT pg_advisory_xact_lock($1)", MATCHING_LOCK_ID)


# --- subscribers -------------------------------------------------------------------------------


async def is_erased(connection: Connection, candidate_id: UUID) -> bool:
    return bool(await erased_among(connection, [candidate_id]))


async def erased_among(connection: Connection, candidate_ids: list[UUID]) -> set[UUID]:
    rows = await connection.fetch(
        "SELECT candidate_id FROM erased_candidates WHERE candidate_id = ANY($1::uuid[])",
        candidate_ids,
    )
    return {row["candidate_id"] for row in rows}


UPSERT_SUBSCRIBER = """INSERT INTO subscribers (candidate_id, email, first_name, interests,
                                              locations, keywords, alert_frequency)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (candidate_id) DO UPDATE SET
               email = excluded.email, first_name = excluded.first_name,
               interests = excluded.interests, locations = excluded.locations,
               keywords = excluded.keywords, alert_frequency = excluded.alert_frequency,
               updated_at = clock_timestamp()"""


async def upsert_subscribers(connection: Connection, signups: list[CandidateSignedUp]) -> None:
    """Insert or replace many subscribers in one pipelined round trip, in order."""
    if signups:
        await connection.executemany(
            UPSERT_SUBSCRIBER,
            [
                (
                    data.candidate_id,
                    data.email,
                    data.first_name,
                    data.interests,
                    data.locations,
                    data.keywords,
                    data.alert_frequency,
                )
                for data in signups
            ],
        )


async def update_preferences(
    connection: Connection,
    candidate_id: UUID,
    *,
    interests: list[str],
    locations: list[str],
    keywords: list[str],
    alert_frequency: str,
    subscribed: bool,
) -> asyncpg.Record | None:
    """The subscriber as updated (email, first name, subscribed), or None when there is none."""
    return await connection.fetchrow(
        """UPDATE subscribers SET interests = $2, locations = $3, keywords = $4,
                  alert_frequency = $5, subscribed = $6, updated_at = clock_timestamp()
           WHERE candidate_id = $1
           RETURNING email, first_name, subscribed""",
        candidate_id,
        interests,
        locations,
        keywords,
        alert_frequency,
        subscribed,
    )


async def unsubscribe(connection: Connection, candidate_id: UUID) -> None:
    await connection.execute(
        "UPDATE subscribers SET subscribed = false, updated_at = clock_timestamp() "
        "WHERE candidate_id = $1",
        candidate_id,
    )
    await connection.execute("DELETE FROM digest_queue WHERE candidate_id = $1", candidate_id)
    await connection.execute(
        """UPDATE deliveries SET status = 'failed', last_error = 'candidate unsubscribed'
           WHERE candidate_id = $1 AND status = 'pending' AND kind IN ('job_alert', 'digest')""",
        candidate_id,
    )


async def erase(connection: Connection, candidate_id: UUID) -> None:
    """Remove every piece of personal data of the candidate; keep a tombstone of the id."""
    await connection.execute("DELETE FROM subscribers WHERE candidate_id = $1", candidate_id)
    await connection.execute("DELETE FROM digest_queue WHERE candidate_id = $1", candidate_id)
    await connection.execute(
        "INSERT INTO erased_candidates (candidate_id) VALUES ($1) ON CONFLICT DO NOTHING",
        candidate_id,
    )
    await connection.execute(
        """UPDATE deliveries SET to_address = NULL, subject = NULL, body_text = NULL,
                  body_html = NULL,
                  status = CASE WHEN status = 'pending' THEN 'failed' ELSE status END,
                  last_error = CASE WHEN status = 'pending' THEN 'candidate erased' END
           WHERE candidate_id = $1""",
        candidate_id,
    )


# --- jobs --------------------------------------------------------------------------------------


async def upsert_job(connection: Connection, job: JobSnapshot) -> bool:
    """Apply a job snapshot unless a newer one is already here; ``True`` when applied."""
    applied = await connection.fetchval(
        """INSERT INTO jobs (job_id, title, category, location, description, status, posted_at,
                             updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (job_id) DO UPDATE SET
               title = excluded.title, category = excluded.category,
               location = excluded.location, description = excluded.description,
               status = excluded.status, updated_at = excluded.updated_at
           WHERE jobs.updated_at <= excluded.updated_at
           RETURNING true""",
        job.job_id,
        job.title,
        job.category,
        job.location,
        job.description,
        job.status,
        job.posted_at,
        job.updated_at,
    )
    return bool(applied)


async def close_job(connection: Connection, job_id: UUID, closed_at: datetime) -> None:
    await connection.execute(
        """UPDATE jobs SET status = 'closed', updated_at = greatest(updated_at, $2)
           WHERE job_id = $1""",
        job_id,
        closed_at,
    )
    await connection.execute("DELETE FROM digest_queue WHERE job_id = $1", job_id)


async def fetch_job(connection: Connection, job_id: UUID) -> asyncpg.Record | None:
    return await connection.fetchrow("SELECT * FROM jobs WHERE job_id = $1", job_id)


# --- matching ----------------------------------------------------------------------------------


async def subscribers_matching_job(connection: Connection, job_id: UUID) -> list[asyncpg.Record]:
    """Subscribed candidates who want alerts, match this open job, and were not alerted to it."""
    return await connection.fetch(
        f"""SELECT s.candidate_id, s.email, s.first_name, s.alert_frequency,
                   {JOB_MATCH_COLUMNS}
            FROM jobs AS j JOIN subscribers AS s ON {MATCHES}
            WHERE j.job_id = $1 AND j.status = 'open'
              AND s.subscribed AND s.alert_frequency <> 'never' AND {NOT_ALERTED}""",
        job_id,
    )


async def with_open_jobs_matching(connection: Connection, candidate_ids: list[UUID]) -> set[UUID]:
    """Those of the candidates with at least one open job matching them and not alerted yet."""
    if not candidate_ids:
        return set()
    rows = await connection.fetch(
        f"""SELECT s.candidate_id FROM subscribers AS s
            WHERE s.candidate_id = ANY($1::uuid[])
              AND EXISTS (SELECT 1 FROM jobs AS j
                          WHERE j.status = 'open' AND {MATCHES} AND {NOT_ALERTED})""",
        candidate_ids,
    )
    return {row["candidate_id"] for row in rows}


async def open_jobs_matching(
    connection: Connection,
    candidate_id: UUID,
    *,
    limit: int,
    changed_since: datetime | None = None,
) -> list[asyncpg.Record]:
    """Open jobs matching the candidate and not alerted to them yet, newest first; with
    ``changed_since``, only jobs posted or updated at or after that time."""
    return await connection.fetch(
        f"""SELECT {JOB_MATCH_COLUMNS}
            FROM subscribers AS s JOIN jobs AS j ON {MATCHES}
            WHERE s.candidate_id = $1 AND j.status = 'open' AND {NOT_ALERTED}
              AND ($3::timestamptz IS NULL OR j.updated_at >= $3)
            ORDER BY j.posted_at DESC, j.job_id LIMIT $2""",
        candidate_id,
        limit,
        changed_since,
    )


async def queue_for_digests(
    connection: Connection, candidate_ids: list[UUID], job_id: UUID
) -> None:
    await connection.execute(
        """INSERT INTO digest_queue (candidate_id, job_id)
           SELECT candidate_id, $2 FROM unnest($1::uuid[]) AS candidate_id
           ON CONFLICT DO NOTHING""",
        candidate_ids,
        job_id,
    )


async def queue_jobs_for_digest(
    connection: Connection, candidate_id: UUID, job_ids: list[UUID]
) -> None:
    await connection.execute(
        """INSERT INTO digest_queue (candidate_id, job_id)
           SELECT $1, job_id FROM unnest($2::uuid[]) AS job_id
           ON CONFLICT DO NOTHING""",
        candidate_id,
        job_ids,
    )


async def claim_job_for(
    connection: Connection, job_id: UUID, claims: dict[UUID, UUID]
) -> set[UUID]:
    """Reserve one job for many candidates' emails (candidate -> delivery id) in one round
    trip; returns the candidates it was not reserved for before."""
    rows = await connection.fetch(
        """INSERT INTO alerted_jobs (candidate_id, job_id, delivery_id)
           SELECT candidate_id, $2, delivery_id
           FROM unnest($1::uuid[], $3::uuid[]) AS c(candidate_id, delivery_id)
           ON CONFLICT DO NOTHING RETURNING candidate_id""",
        list(claims),
        job_id,
        list(claims.values()),
    )
    return {row["candidate_id"] for row in rows}


async def digest_candidates(
    connection: Connection, frequency: str, period_key: str
) -> list[asyncpg.Record]:
    """Subscribed candidates of this frequency with something queued and no digest yet in
    this period."""
    return await connection.fetch(
        """SELECT s.candidate_id, s.email, s.first_name FROM subscribers AS s
           WHERE s.subscribed AND s.alert_frequency = $1
             AND EXISTS (SELECT 1 FROM digest_queue AS q WHERE q.candidate_id = s.candidate_id)
             AND NOT EXISTS (SELECT 1 FROM deliveries AS d
                             WHERE d.dedup_key = 'digest:' || s.candidate_id || ':' || $2)""",
        frequency,
        period_key,
    )


async def queued_jobs_matching(
    connection: Connection, candidate_id: UUID, *, limit: int
) -> list[asyncpg.Record]:
    """Queued jobs still open, still matching, never sent to the candidate; newest first."""
    return await connection.fetch(
        f"""SELECT {JOB_MATCH_COLUMNS}
            FROM digest_queue AS q
            JOIN subscribers AS s USING (candidate_id)
            JOIN jobs AS j ON j.job_id = q.job_id AND {MATCHES}
            WHERE q.candidate_id = $1 AND j.status = 'open' AND {NOT_ALERTED}
            ORDER BY j.posted_at DESC, j.job_id LIMIT $2""",
        candidate_id,
        limit,
    )


async def clear_digest_queue(connection: Connection, candidate_id: UUID) -> None:
    """Drop what was queued and is now sent, closed or no longer matching."""
    await connection.execute(
        f"""DELETE FROM digest_queue AS q USING subscribers AS s, jobs AS j
            WHERE q.candidate_id = $1 AND s.candidate_id = q.candidate_id AND j.job_id = q.job_id
              AND (j.status <> 'open' OR NOT {MATCHES}
                   OR EXISTS (SELECT 1 FROM alerted_jobs AS a
                              WHERE a.candidate_id = q.candidate_id AND a.job_id = q.job_id))""",
        candidate_id,
    )


# --- deliveries --------------------------------------------------------------------------------


async def claim_jobs(
    connection: Connection, candidate_id: UUID, job_ids: list[UUID], delivery_id: UUID
) -> list[UUID]:
    """Reserve jobs for one email to the candidate; returns those not reserved before."""
    rows = await connection.fetch(
        """INSERT INTO alerted_jobs (candidate_id, job_id, delivery_id)
           SELECT $1, job_id, $3 FROM unnest($2::uuid[]) AS job_id
           ON CONFLICT DO NOTHING RETURNING job_id""",
        candidate_id,
        job_ids,
        delivery_id,
    )
    claimed = {row["job_id"] for row in rows}
    return [job_id for job_id in job_ids if job_id in claimed]


@dataclass(frozen=True)
class NewDelivery:
    delivery_id: UUID
    dedup_key: str
    candidate_id: UUID
    kind: str
    to_address: str
    content: RenderedEmail
    job_ids: list[UUID]
    # Recorded while handling an event: its trace continues when the email is sent.
    trace_context: TraceContext | None = field(default_factory=current_trace_context)

    def values(self) -> tuple[object, ...]:
        return (
            self.delivery_id,
            self.dedup_key,
            self.candidate_id,
            self.kind,
            self.to_address,
            self.content.subject,
            self.content.text,
            self.content.html,
            self.job_ids,
            self.trace_context,
        )


INSERT_DELIVERY = """INSERT INTO deliveries (delivery_id, dedup_key, candidate_id, kind, to_address,
                                          subject, body_text, body_html, job_ids, trace_context)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                     ON CONFLICT (dedup_key) DO NOTHING"""


async def insert_delivery(connection: Connection, delivery: NewDelivery) -> bool:
    """Record an email to send; ``False`` when one with this dedup key exists already."""
    inserted = await connection.fetchval(f"{INSERT_DELIVERY} RETURNING true", *delivery.values())
    return bool(inserted)


async def insert_deliveries(connection: Connection, deliveries: list[NewDelivery]) -> None:
    """Record many emails in one pipelined round trip (existing dedup keys are skipped)."""
    if deliveries:
        await connection.executemany(INSERT_DELIVERY, [d.values() for d in deliveries])


async def claim_due_deliveries(
    connection: Connection, *, limit: int, lease_seconds: float
) -> list[asyncpg.Record]:
    """Take due pending deliveries for sending, leasing them so no other worker takes them
    meanwhile; a worker that dies mid-send leaves them due again when the lease ends."""
    return await connection.fetch(
        """UPDATE deliveries AS d
           SET attempts = d.attempts + 1,
               next_attempt_at = clock_timestamp() + make_interval(secs => $2)
           FROM (SELECT delivery_id FROM deliveries
                 WHERE status = 'pending' AND next_attempt_at <= clock_timestamp()
                 ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED) AS due
           WHERE d.delivery_id = due.delivery_id
           RETURNING d.*""",
        limit,
        lease_seconds,
    )


async def mark_sent(connection: Connection, delivery_ids: Sequence[UUID]) -> None:
    await connection.execute(
        """UPDATE deliveries SET status = 'sent', sent_at = clock_timestamp(), last_error = NULL
           WHERE delivery_id = ANY($1::uuid[]) AND status = 'pending'""",
        delivery_ids,
    )


async def mark_retry(
    connection: Connection, delivery_id: UUID, *, error: str, delay_seconds: float
) -> None:
    await connection.execute(
        """UPDATE deliveries SET last_error = $2,
                  next_attempt_at = clock_timestamp() + make_interval(secs => $3)
           WHERE delivery_id = $1 AND status = 'pending'""",
        delivery_id,
        error,
        delay_seconds,
    )


async def mark_failed(connection: Connection, delivery_id: UUID, *, error: str) -> None:
    await connection.execute(
        """UPDATE deliveries SET status = 'failed', last_error = $2
           WHERE delivery_id = $1 AND status = 'pending'""",
        delivery_id,
        error,
    )


async def deliveries_to(connection: Connection, email: str) -> list[asyncpg.Record]:
    return await connection.fetch(
        """SELECT delivery_id, kind, to_address, subject, status, attempts, job_ids, created_at,
                  sent_at
           FROM deliveries WHERE lower(to_address) = lower($1) ORDER BY created_at""",
        email,
    )
