"""SQL of the jobs service. Functions take a connection so callers choose the transaction."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from talent_shared.db import Connection

JOB_COLUMNS = """job_id, title, category, location, description, employment_type, featured,
                 requisition_id, status, posted_at, updated_at, closed_at"""
UPDATABLE_COLUMNS = frozenset(
    {
        "title",
        "category",
        "location",
        "description",
        "employment_type",
        "featured",
        "requisition_id",
    }
)


@dataclass(frozen=True)
class JobFilters:
    featured: bool | None = None
    category: str | None = None
    location: str | None = None
    q: str | None = None


@dataclass(frozen=True)
class Position:
    """Where a page ended in the (posted_at DESC, job_id DESC) order."""

    posted_at: datetime
    job_id: UUID


JOB_FOR_UPDATE = f"SELECT {JOB_COLUMNS} FROM jobs WHERE job_id = $1 FOR UPDATE"


async def insert_job(connection: Connection, *, job_id: UUID, **fields: Any) -> asyncpg.Record:
    columns = ["job_id", *fields]
    placeholders = ", ".join(f"${n}" for n in range(1, len(columns) + 1))
    row = await connection.fetchrow(
        f"INSERT INTO jobs ({', '.join(columns)}) VALUES ({placeholders}) RETURNING {JOB_COLUMNS}",
        job_id,
        *fields.values(),
    )
    assert row is not None
    return row


async def fetch_job(connection: Connection, job_id: UUID) -> asyncpg.Record | None:
    return await connection.fetchrow(f"SELECT {JOB_COLUMNS} FROM jobs WHERE job_id = $1", job_id)


async def lock_job(connection: Connection, job_id: UUID) -> asyncpg.Record | None:
    """The job, locked until the caller's transaction ends (for a change based on it)."""
    return await connection.fetchrow(JOB_FOR_UPDATE, job_id)


async def update_job(
    connection: Connection, job_id: UUID, changes: dict[str, Any]
) -> asyncpg.Record:
    unknown = set(changes) - UPDATABLE_COLUMNS
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    assignments = ", ".join(f"{column} = ${n}" for n, column in enumerate(changes, start=2))
    row = await connection.fetchrow(
        f"""UPDATE jobs SET {assignments}, updated_at = clock_timestamp()
            WHERE job_id = $1 RETURNING {JOB_COLUMNS}""",
        job_id,
        *changes.values(),
    )
    assert row is not None
    return row


async def close_job(connection: Connection, job_id: UUID) -> asyncpg.Record | None:
    """Close an open job; ``None`` when there is no open job with this id."""
    return await connection.fetchrow(
        f"""UPDATE jobs SET status = 'closed', closed_at = clock_timestamp(),
                            updated_at = clock_timestamp()
            WHERE job_id = $1 AND status = 'open' RETURNING {JOB_COLUMNS}""",
        job_id,
    )


async def existing_job_ids(connection: Connection, job_ids: list[UUID]) -> set[UUID]:
    """Which of ``job_ids`` are jobs' ids, in one round trip."""
    rows = await connection.fetch("SELECT job_id FROM jobs WHERE job_id = ANY($1::uuid[])", job_ids)
    return {row["job_id"] for row in rows}


async def all_job_ids(connection: Connection) -> list[UUID]:
    return [row["job_id"] for row in await connection.fetch("SELECT job_id FROM jobs")]


def _like_contains(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class _Parameters:
    """The arguments of one query, each named ``$n`` in its text as it is added."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


def _open_jobs_matching(filters: JobFilters, param: _Parameters) -> list[str]:
    clauses = ["status = 'open'"]
    if filters.featured is not None:
        clauses.append(f"featured = {param(filters.featured)}")
    if filters.category:
        clauses.append(f"lower(category) = lower({param(filters.category)})")
    if filters.location:
        clauses.append(f"location ILIKE {param(_like_contains(filters.location))}")
    if filters.q:
        clauses.append(f"search @@ websearch_to_tsquery('english', {param(filters.q)})")
    return clauses


async def list_open_jobs(
    connection: Connection, *, filters: JobFilters, after: Position | None, limit: int
) -> list[asyncpg.Record]:
    """Open jobs, newest first, after ``after`` (keyset pagination: stable under inserts)."""
    param = _Parameters()
    clauses = _open_jobs_matching(filters, param)
    if after is not None:
        clauses.append(f"(posted_at, job_id) < ({param(after.posted_at)}, {param(after.job_id)})")
    return await connection.fetch(
        f"""SELECT {JOB_COLUMNS} FROM jobs WHERE {" AND ".join(clauses)}
            ORDER BY posted_at DESC, job_id DESC LIMIT {param(limit)}""",
        *param.values,
    )


async def count_open_jobs(connection: Connection, *, filters: JobFilters) -> int:
    param = _Parameters()
    clauses = _open_jobs_matching(filters, param)
    count: int = await connection.fetchval(
        f"SELECT count(*) FROM jobs WHERE {' AND '.join(clauses)}", *param.values
    )
    return count


# Each value once whatever its case (filters match any case), spelt as most open jobs spell
# it; the most common first.
FACET_COUNTS = """
    SELECT mode() WITHIN GROUP (ORDER BY {column}) AS name, count(*) AS count
    FROM jobs WHERE status = 'open'
    GROUP BY lower({column}) ORDER BY count DESC, name"""


async def open_job_facets(connection: Connection) -> dict[str, list[asyncpg.Record]]:
    """The categories and the locations of the open jobs, each with its number of open jobs."""
    return {
        "categories": await connection.fetch(FACET_COUNTS.format(column="category")),
        "locations": await connection.fetch(FACET_COUNTS.format(column="location")),
    }


async def open_job_changes(connection: Connection, *, limit: int) -> list[asyncpg.Record]:
    """``job_id`` and ``updated_at`` of the newest ``limit`` open jobs, newest first."""
    return await connection.fetch(
        """SELECT job_id, updated_at FROM jobs WHERE status = 'open'
           ORDER BY posted_at DESC, job_id DESC LIMIT $1""",
        limit,
    )


async def last_catalogue_change(connection: Connection) -> datetime | None:
    """When a job was last posted, changed or closed."""
    changed: datetime | None = await connection.fetchval("SELECT max(updated_at) FROM jobs")
    return changed


async def project_views(
    connection: Connection,
    *,
    visitor_ids: list[str],
    job_ids: list[UUID],
    viewed_ats: list[datetime],
    kept: int,
) -> None:
    await connection.execute(
        "SELECT project_job_views($1::text[], $2::uuid[], $3::timestamptz[], $4)",
        visitor_ids,
        job_ids,
        viewed_ats,
        kept,
    )


async def erase_visitors(
    connection: Connection, visitor_ids: list[str], *, erased_at: datetime
) -> None:
    """Delete the visitors' rows and keep a tombstone, so a view from before ``erased_at``
    consumed later is not projected (see migration 0004)."""
    await connection.execute(
        "SELECT erase_visitors($1::text[], $2::timestamptz)", visitor_ids, erased_at
    )


def _json_timestamp(column: str) -> str:
    """SQL text of ``column`` (a timestamptz) as pydantic writes it in JSON: UTC with ``Z``,
    microseconds only when there are any."""
    utc = f"({column} AT TIME ZONE 'UTC')"
    return f"""to_char({utc}, CASE WHEN date_trunc('second', {utc}) = {utc}
                                   THEN 'YYYY-MM-DD"T"HH24:MI:SS"Z"'
                                   ELSE 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"' END)"""


# The whole response body, built by PostgreSQL: compact JSON (row_to_json writes no spaces) in
# the field order of the RecentlyViewed model, newest first.
RECENTLY_VIEWED_JSON = f"""
    SELECT '{{"visitor_id":' || to_json($1::text)::text || ',"items":['
           || coalesce(string_agg(row_to_json(item)::text, ','
                                  ORDER BY latest.viewed_at DESC, latest.job_id), '')
           || ']}}'
    FROM (SELECT r.job_id, j.title, j.location, j.category, r.viewed_at
          FROM recently_viewed AS r JOIN jobs AS j USING (job_id)
          WHERE r.visitor_id = $1 AND j.status = 'open'
          ORDER BY r.viewed_at DESC, r.job_id
          LIMIT $2) AS latest,
         LATERAL (SELECT latest.job_id, latest.title, latest.location, latest.category,
                         {_json_timestamp("latest.viewed_at")} AS viewed_at) AS item"""


async def recently_viewed_json(connection: Connection, *, visitor_id: str, limit: int) -> str:
    """The visitor's ``limit`` most recently viewed open jobs, as the JSON of ``RecentlyViewed``."""
    body: str = await connection.fetchval(RECENTLY_VIEWED_JSON, visitor_id, limit)
    return body


# --- jobs by requisition id (ATS feeds) --------------------------------------------------------

FEED_COLUMNS = ("title", "category", "location", "description", "employment_type", "featured")
FEEDS_LOCK_ID = 7_461_722_301  # any constant no other lock of this database uses


async def lock_feeds(connection: Connection) -> None:
    """One feed sync or requisition write at a time, until the transaction ends: a feed's view
    of which jobs it has is then never out of date when it writes."""
    await connection.execute("SELECT pg_advisory_xact_lock($1)", FEEDS_LOCK_ID)


async def jobs_with_requisitions(
    connection: Connection, requisition_ids: list[str] | None = None
) -> list[asyncpg.Record]:
    """Every job that has a requisition id (or those of ``requisition_ids``)."""
    return await connection.fetch(
        f"""SELECT {JOB_COLUMNS} FROM jobs
            WHERE requisition_id IS NOT NULL
              AND ($1::text[] IS NULL OR requisition_id = ANY($1::text[]))""",
        requisition_ids,
    )


async def insert_jobs(connection: Connection, jobs: list[dict[str, Any]]) -> list[asyncpg.Record]:
    """Insert many jobs (each with its ``job_id`` and feed columns) in one statement."""
    if not jobs:
        return []
    columns = ("job_id", "requisition_id", *FEED_COLUMNS)
    types = ("uuid", "text", "text", "text", "text", "text", "text", "boolean")
    arrays = [[job[column] for job in jobs] for column in columns]
    unnest = ", ".join(f"${n}::{kind}[]" for n, kind in enumerate(types, start=1))
    return await connection.fetch(
        f"""INSERT INTO jobs ({", ".join(columns)})
            SELECT * FROM unnest({unnest}) RETURNING {JOB_COLUMNS}""",
        *arrays,
    )


async def replace_jobs(connection: Connection, jobs: list[dict[str, Any]]) -> list[asyncpg.Record]:
    """Give many jobs (by ``job_id``) new feed columns, open (a closed one is reopened)."""
    if not jobs:
        return []
    columns = ("job_id", *FEED_COLUMNS)
    types = ("uuid", "text", "text", "text", "text", "text", "boolean")
    arrays = [[job[column] for job in jobs] for column in columns]
    unnest = ", ".join(f"${n}::{kind}[]" for n, kind in enumerate(types, start=1))
    assignments = ", ".join(f"{column} = feed.{column}" for column in FEED_COLUMNS)
    return await connection.fetch(
        f"""UPDATE jobs SET {assignments}, status = 'open', closed_at = NULL,
                            updated_at = clock_timestamp()
            FROM unnest({unnest}) AS feed({", ".join(columns)})
            WHERE jobs.job_id = feed.job_id
            RETURNING {", ".join(f"jobs.{c.strip()}" for c in JOB_COLUMNS.split(","))}""",
        *arrays,
    )


async def close_jobs(connection: Connection, job_ids: list[UUID]) -> list[asyncpg.Record]:
    """Close many open jobs in one statement."""
    return await connection.fetch(
        f"""UPDATE jobs SET status = 'closed', closed_at = clock_timestamp(),
                            updated_at = clock_timestamp()
            WHERE job_id = ANY($1::uuid[]) AND status = 'open' RETURNING {JOB_COLUMNS}""",
        job_ids,
    )
