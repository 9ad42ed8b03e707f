"""The known-job cache: validating a view of a known job costs no database query (unit)."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from uuid import UUID

from talent_jobs.known_jobs import KnownJobs


@dataclass
class CountingPool:
    """Stands in for the asyncpg pool: counts connections taken, answers from a set of ids."""

    existing: set[UUID] = field(default_factory=set)
    acquired: int = 0

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator["CountingPool"]:
        self.acquired += 1
        yield self

    async def fetch(self, _sql: str, *among: list[UUID]) -> list[dict[str, UUID]]:
        """Every id (warming up), or those of ``among`` that exist (a lookup)."""
        wanted = set(among[0]) if among else self.existing
        return [{"job_id": job_id} for job_id in self.existing & wanted]


async def test_known_job_is_answered_without_a_query() -> None:
    job_id = uuid.uuid4()
    pool, known = CountingPool(existing={job_id}), KnownJobs()
    await known.warm(pool)  # type: ignore[arg-type]
    pool.acquired = 0
    for _ in range(100):
        assert await known.exists(pool, job_id)  # type: ignore[arg-type]
    assert pool.acquired == 0


async def test_job_added_by_this_service_is_known() -> None:
    job_id, pool, known = uuid.uuid4(), CountingPool(), KnownJobs()
    known.add(job_id)
    assert await known.exists(pool, job_id)  # type: ignore[arg-type]
    assert pool.acquired == 0


async def test_unseen_job_is_looked_up_once_then_remembered() -> None:
    job_id = uuid.uuid4()
    pool, known = CountingPool(existing={job_id}), KnownJobs()
    assert await known.exists(pool, job_id)  # type: ignore[arg-type]
    assert await known.exists(pool, job_id)  # type: ignore[arg-type]
    assert pool.acquired == 1


async def test_unknown_job_is_not_remembered() -> None:
    pool, known = CountingPool(), KnownJobs()
    assert not await known.exists(pool, uuid.uuid4())  # type: ignore[arg-type]
    assert len(known) == 0
