"""SQL of the jobs service. Functions take a connection so callers choose the transaction."""

from datetime import datetime
from uuid import UUID

import asyncpg

from talent_shared.db import Connection

JOB_COLUMNS = """job_id, title, category, location, description, employment_type, featured,
                 requisition_id, status, posted_at, updated_at, closed_at"""


async def insert_job(
    connection: Connection,
    *,
    job_id: UUID,
    title: str,
    category: str,
    location: str,
    description: str,
    employment_type: str | None,
    featured: bool,
    requisition_id: str | None,
) -> asyncpg.Record:
    row = await connection.fetchrow(
        f"""INSERT INTO jobs (job_id, title, category, location, description, employment_type,
                             featured, requisition_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            RETURNING {JOB_COLUMNS}""",
        job_id,
        title,
        category,
        location,
        description,
        employment_type,
        featured,
        requisition_id,
    )
    assert row is not None
    return row


async def fetch_job(connection: Connection, job_id: UUID) -> asyncpg.Record | None:
    return await connection.fetchrow(f"SELECT {JOB_COLUMNS} FROM jobs WHERE job_id = $1", job_id)


async def job_exists(connection: Connection, job_id: UUID) -> bool:
    return bool(await connection.fetchval("SELECT true FROM jobs WHERE job_id = $1", job_id))


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


async def recently_viewed(
    connection: Connection, *, visitor_id: str, limit: int
) -> list[asyncpg.Record]:
    return await connection.fetch(
        """SELECT r.job_id, j.title, j.location, j.category, r.viewed_at
           FROM recently_viewed AS r JOIN jobs AS j USING (job_id)
           WHERE r.visitor_id = $1 AND j.status = 'open'
           ORDER BY r.viewed_at DESC, r.job_id
           LIMIT $2""",
        visitor_id,
        limit,
    )
