"""SQL of the matches waiting to be sent: an instant subscriber's waiting matches and alert
window, and the digest queue of a daily or weekly one. Functions take a connection so callers
choose the transaction (each holds the candidate's lock, see :mod:`.locks`)."""

from datetime import datetime
from uuid import UUID

import asyncpg

from talent_notifications.repository import JOB_MATCH_COLUMNS, MATCHES, NOT_ALERTED
from talent_shared.db import Connection

# --- alerts waiting for their window -----------------------------------------------------------


async def due_alert_windows(connection: Connection, *, limit: int) -> list[UUID]:
    """Candidates whose window has closed, locked (another replica skips them)."""
    rows = await connection.fetch(
        """SELECT candidate_id FROM alert_windows WHERE closes_at <= clock_timestamp()
           ORDER BY closes_at LIMIT $1 FOR UPDATE SKIP LOCKED""",
        limit,
    )
    return [row["candidate_id"] for row in rows]


async def waiting_matches(connection: Connection, candidate_id: UUID) -> list[asyncpg.Record]:
    """The candidate's waiting matches still worth sending (the job open, still matching),
    oldest first; the others are dropped."""
    await connection.execute(
        f"""DELETE FROM alerted_jobs AS a USING subscribers AS s, jobs AS j
            WHERE a.candidate_id = $1 AND a.delivery_id IS NULL
              AND s.candidate_id = a.candidate_id AND j.job_id = a.job_id
              AND (j.status <> 'open' OR NOT {MATCHES})""",
        candidate_id,
    )
    return await connection.fetch(
        f"""SELECT {JOB_MATCH_COLUMNS}
            FROM alerted_jobs AS a
            JOIN subscribers AS s USING (candidate_id)
            JOIN jobs AS j ON j.job_id = a.job_id
            WHERE a.candidate_id = $1 AND a.delivery_id IS NULL
            ORDER BY a.matched_at, a.job_id""",
        candidate_id,
    )


async def alerts_since(connection: Connection, candidate_id: UUID, since: datetime) -> int:
    count: int = await connection.fetchval(
        """SELECT count(*) FROM deliveries
           WHERE candidate_id = $1 AND kind = 'job_alert' AND created_at >= $2""",
        candidate_id,
        since,
    )
    return count


async def mark_alerted(
    connection: Connection, candidate_id: UUID, job_ids: list[UUID], delivery_id: UUID
) -> None:
    await connection.execute(
        """UPDATE alerted_jobs SET delivery_id = $3
           WHERE candidate_id = $1 AND job_id = ANY($2::uuid[])""",
        candidate_id,
        job_ids,
        delivery_id,
    )


async def close_window_at(connection: Connection, candidate_id: UUID, at: datetime | None) -> None:
    """The window closes (again) at ``at``; ``None`` removes it (nothing left waiting)."""
    if at is None:
        await connection.execute("DELETE FROM alert_windows WHERE candidate_id = $1", candidate_id)
    else:
        await connection.execute(
            "UPDATE alert_windows SET closes_at = $2 WHERE candidate_id = $1", candidate_id, at
        )


# --- digests -----------------------------------------------------------------------------------


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
