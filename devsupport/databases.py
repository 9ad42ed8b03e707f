"""Fresh databases on the infrastructure's PostgreSQL, one per test module or benchmark."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from devsupport.infra import database_url, postgres_admin_url
from talent_shared.db import Pool, apply_migrations, create_pool
from talent_shared.runtime import all_migrations


@asynccontextmanager
async def fresh_database(prefix: str) -> AsyncIterator[str]:
    """A new, empty database for one test or module; dropped afterwards."""
    name = f"test_{prefix}_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(postgres_admin_url())
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield database_url(name)
    finally:
        await _drop_database(name)


@asynccontextmanager
async def migrated_pool(package: str, prefix: str, *, max_size: int) -> AsyncIterator[Pool]:
    """A pool on a fresh database holding a service's migrations (``package``: its Python
    package, such as ``talent_jobs``), as the service itself applies them at start."""
    async with fresh_database(prefix) as url:
        pool = await create_pool(url, max_size=max_size)
        try:
            await apply_migrations(pool, all_migrations(package))
            yield pool
        finally:
            await pool.close()


async def _drop_database(name: str, attempts: int = 5) -> None:
    # FORCE terminates leftover sessions; one just closing can make it fail once: try again.
    for attempt in range(attempts):
        admin = await asyncpg.connect(postgres_admin_url())
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except asyncpg.PostgresError:
            if attempt == attempts - 1:
                raise
        finally:
            await admin.close()
        await asyncio.sleep(0.5)
