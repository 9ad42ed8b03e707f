"""Which job ids exist, so validating a job view costs no database query in the common case.

Jobs are never deleted (a closed job keeps its id), so an id once seen stays valid: the cache
only grows, never goes stale, and needs no invalidation. It is warmed at start, fed by this
service's own writes, and an id it has not seen (posted through another replica, or unknown) is
looked up once in the database.
"""

from collections.abc import Iterable
from uuid import UUID

from talent_jobs import repository
from talent_shared.db import Pool


class KnownJobs:
    def __init__(self) -> None:
        self._ids: set[UUID] = set()

    async def warm(self, pool: Pool) -> None:
        async with pool.acquire() as connection:
            self._ids.update(await repository.all_job_ids(connection))

    def add(self, job_id: UUID) -> None:
        self._ids.add(job_id)

    def update(self, job_ids: Iterable[UUID]) -> None:
        self._ids.update(job_ids)

    async def exists(self, pool: Pool, job_id: UUID) -> bool:
        return not await self.unknown_among(pool, [job_id])

    async def unknown_among(self, pool: Pool, job_ids: Iterable[UUID]) -> set[UUID]:
        """Which of ``job_ids`` are no job's id; the ids not seen yet cost one query together."""
        unseen = {job_id for job_id in job_ids if job_id not in self._ids}
        if not unseen:
            return set()
        async with pool.acquire() as connection:
            found = await repository.existing_job_ids(connection, list(unseen))
        self._ids |= found
        return unseen - found

    def __len__(self) -> int:
        return len(self._ids)
