"""SQL of the notifications service's replicas and matching: subscribers, jobs, and the matches
waiting for an alert or a digest. Functions take a connection so callers choose the transaction.

Matching is ``MATCHES``: the contract's rules (the SQL function ``job_matches`` of migration
0002 states them) as plain expressions over what migration 0006 stores, the subscribers' places
and keywords as LIKE patterns and each job's lower-case text, which PostgreSQL evaluates in
place instead of calling a function for every (member, job) pair. The category, cheapest and
most selective, is tested first (``CATEGORY_MAY_MATCH``).
"""

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg

from talent_shared.db import Connection
from talent_shared.events import (
    CandidateChangesConfirmed,
    CandidatePreferencesChanged,
    CandidateSignedUp,
    JobSnapshot,
)

JOB_MATCH_COLUMNS = """j.job_id, j.title, j.category, j.location,
    matched_keyword(s.keywords, j.title, j.description) AS keyword"""
CATEGORY_MAY_MATCH = """(s.interest_keys = '{}' OR lower(j.category) = ANY (s.interest_keys))"""
PLACE_AND_KEYWORD_MATCH = """(s.location_patterns = '{}'
         OR lower(j.location) LIKE ANY (s.location_patterns))
    AND (s.keyword_patterns = '{}' OR j.match_text LIKE ANY (s.keyword_patterns))"""
MATCHES = f"{CATEGORY_MAY_MATCH}\n    AND {PLACE_AND_KEYWORD_MATCH}"
NOT_ALERTED = """NOT EXISTS (SELECT 1 FROM alerted_jobs AS a
                            WHERE a.candidate_id = s.candidate_id AND a.job_id = j.job_id)"""
ALERTABLE = "s.subscribed AND s.alert_frequency <> 'never'"


# --- subscribers -------------------------------------------------------------------------------


async def erased_among(connection: Connection, candidate_ids: list[UUID]) -> set[UUID]:
    rows = await connection.fetch(
        "SELECT candidate_id FROM erased_candidates WHERE candidate_id = ANY($1::uuid[])",
        candidate_ids,
    )
    return {row["candidate_id"] for row in rows}


async def is_erased(connection: Connection, candidate_id: UUID) -> bool:
    return bool(await erased_among(connection, [candidate_id]))


UPSERT_SUBSCRIBER = """INSERT INTO subscribers (candidate_id, email, first_name, interests,
                                              locations, keywords, alert_frequency, subscribed)
           VALUES ($1, $2, $3, $4, $5, $6, $7, true)
           ON CONFLICT (candidate_id) DO UPDATE SET
               email = excluded.email, first_name = excluded.first_name,
               interests = excluded.interests, locations = excluded.locations,
               keywords = excluded.keywords, alert_frequency = excluded.alert_frequency,
               subscribed = true, updated_at = clock_timestamp()"""


async def upsert_subscribers(
    connection: Connection, members: Sequence[CandidateSignedUp | CandidateChangesConfirmed]
) -> None:
    """Insert or replace many subscribers, subscribed, in one pipelined round trip, in order."""
    if members:
        await connection.executemany(
            UPSERT_SUBSCRIBER,
            [
                (
                    member.candidate_id,
                    member.email,
                    member.first_name,
                    member.interests,
                    member.locations,
                    member.keywords,
                    member.alert_frequency,
                )
                for member in members
            ],
        )


async def fetch_subscriber(connection: Connection, candidate_id: UUID) -> asyncpg.Record | None:
    return await connection.fetchrow(
        """SELECT candidate_id, email, first_name, alert_frequency, subscribed
           FROM subscribers WHERE candidate_id = $1""",
        candidate_id,
    )


async def update_preferences(
    connection: Connection, change: CandidatePreferencesChanged
) -> asyncpg.Record | None:
    """The subscriber as updated (email, first name, subscribed), or None when there is none."""
    wanted = (change.interests, change.locations, change.keywords, change.alert_frequency)
    return await connection.fetchrow(
        UPDATE_PREFERENCES, change.candidate_id, *wanted, change.subscribed
    )


UPDATE_PREFERENCES = """UPDATE subscribers SET interests = $2, locations = $3, keywords = $4,
              alert_frequency = $5, subscribed = $6, updated_at = clock_timestamp()
       WHERE candidate_id = $1
       RETURNING email, first_name, subscribed"""


async def unsubscribe(connection: Connection, candidate_id: UUID) -> None:
    await connection.execute(
        "UPDATE subscribers SET subscribed = false, updated_at = clock_timestamp() "
        "WHERE candidate_id = $1",
        candidate_id,
    )
    await forget_waiting(connection, candidate_id)
    await connection.execute(
        """UPDATE deliveries SET status = 'failed', last_error = 'candidate unsubscribed'
           WHERE candidate_id = $1 AND status = 'pending' AND kind IN ('job_alert', 'digest')""",
        candidate_id,
    )


async def erase(connection: Connection, candidate_id: UUID) -> None:
    """Remove every piece of personal data of the candidate; keep a tombstone of the id."""
    await connection.execute("DELETE FROM subscribers WHERE candidate_id = $1", candidate_id)
    await forget_waiting(connection, candidate_id)
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


# --- matching ----------------------------------------------------------------------------------


async def subscribers_matching_job(connection: Connection, job_id: UUID) -> list[UUID]:
    """Subscribed candidates who want alerts, match this open job, and were not alerted to it
    (read without locks: :func:`record_job_matches` checks each again under its lock)."""
    rows = await connection.fetch(
        f"""SELECT s.candidate_id
            FROM jobs AS j JOIN subscribers AS s ON {MATCHES}
            WHERE j.job_id = $1 AND j.status = 'open' AND {ALERTABLE} AND {NOT_ALERTED}
            ORDER BY s.candidate_id""",
        job_id,
    )
    return [row["candidate_id"] for row in rows]


async def record_job_matches(
    connection: Connection, job_id: UUID, candidate_ids: list[UUID], *, window_seconds: float
) -> None:
    """Record the job for those of ``candidate_ids`` it still matches (their locks held): for
    an instant subscriber a waiting match, which opens their alert window if none is open; for a
    daily or weekly one a place in the digest queue. One round trip."""
    await connection.execute(
        f"""WITH matching AS (
                SELECT s.candidate_id, s.alert_frequency
                FROM jobs AS j JOIN subscribers AS s ON {MATCHES}
                WHERE j.job_id = $1 AND j.status = 'open' AND s.candidate_id = ANY($2::uuid[])
                  AND {ALERTABLE} AND {NOT_ALERTED}
            ), waiting AS (
                INSERT INTO alerted_jobs (candidate_id, job_id)
                SELECT candidate_id, $1 FROM matching WHERE alert_frequency = 'instant'
                ON CONFLICT DO NOTHING RETURNING candidate_id
            ), windows AS (
                INSERT INTO alert_windows (candidate_id, closes_at)
                SELECT candidate_id, clock_timestamp() + make_interval(secs => $3) FROM waiting
                ON CONFLICT DO NOTHING
            )
            INSERT INTO digest_queue (candidate_id, job_id)
            SELECT candidate_id, $1 FROM matching WHERE alert_frequency IN ('daily', 'weekly')
            ON CONFLICT DO NOTHING""",
        job_id,
        candidate_ids,
        window_seconds,
    )


def open_jobs_matching_subscribers(where: str, columns: str = "s.candidate_id, j.job_id") -> str:
    """``columns`` of the open jobs matching the subscribers ``where`` selects. A
    subscriber with interests meets only their categories' jobs, found by jobs_open_by_category;
    one without meets every open job. Two branches, because an OR of the two keeps PostgreSQL
    from the index: for 100 instant sign-ups of the reference data set, 100 ms instead of 330."""
    return f"""SELECT {columns}
               FROM subscribers AS s JOIN jobs AS j
                 ON j.status = 'open' AND lower(j.category) = ANY (s.interest_keys)
                    AND {PLACE_AND_KEYWORD_MATCH}
               WHERE {where} AND s.interest_keys <> '{{}}'
               UNION ALL
               SELECT {columns}
               FROM subscribers AS s JOIN jobs AS j
                 ON j.status = 'open' AND {PLACE_AND_KEYWORD_MATCH}
               WHERE {where} AND s.interest_keys = '{{}}'"""


NEW_INSTANT_MATCHES = """s.candidate_id = ANY($1::uuid[]) AND s.subscribed
    AND s.alert_frequency = 'instant' AND ($3::timestamptz IS NULL OR j.updated_at >= $3)"""


async def queue_open_jobs(
    connection: Connection,
    candidate_ids: list[UUID],
    *,
    window_seconds: float,
    changed_since: datetime | None = None,
) -> None:
    """The open jobs matching each of these instant subscribers become waiting matches (their
    window opens if none is); with ``changed_since``, only jobs posted or updated since."""
    await connection.execute(
        f"""WITH waiting AS (
                INSERT INTO alerted_jobs (candidate_id, job_id)
                {open_jobs_matching_subscribers(NEW_INSTANT_MATCHES)}
                ON CONFLICT DO NOTHING RETURNING candidate_id
            )
            INSERT INTO alert_windows (candidate_id, closes_at)
            SELECT DISTINCT candidate_id, clock_timestamp() + make_interval(secs => $2)
            FROM waiting
            ON CONFLICT DO NOTHING""",
        candidate_ids,
        window_seconds,
        changed_since,
    )


CANDIDATE_NOT_YET_ALERTED = f"""s.candidate_id = $1 AND {NOT_ALERTED}
    AND ($3::timestamptz IS NULL OR j.updated_at >= $3)"""
OPEN_JOB_COLUMNS = f"{JOB_MATCH_COLUMNS}, j.posted_at"


async def open_jobs_matching(
    connection: Connection,
    candidate_id: UUID,
    *,
    limit: int,
    changed_since: datetime | None = None,
) -> list[asyncpg.Record]:
    """Open jobs matching the candidate and not alerted to them yet, newest first; with
    ``changed_since``, only jobs posted or updated at or after that time."""
    matching = open_jobs_matching_subscribers(CANDIDATE_NOT_YET_ALERTED, OPEN_JOB_COLUMNS)
    return await connection.fetch(
        f"""SELECT * FROM ({matching}) AS matching ORDER BY posted_at DESC, job_id LIMIT $2""",
        candidate_id,
        limit,
        changed_since,
    )


async def forget_waiting(connection: Connection, candidate_id: UUID) -> None:
    """Drop what waited for the candidate's next alert or digest: they left, or were erased."""
    await connection.execute(
        "DELETE FROM alerted_jobs WHERE candidate_id = $1 AND delivery_id IS NULL", candidate_id
    )
    await connection.execute("DELETE FROM alert_windows WHERE candidate_id = $1", candidate_id)
    await connection.execute("DELETE FROM digest_queue WHERE candidate_id = $1", candidate_id)
