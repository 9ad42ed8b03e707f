"""asyncpg pool and the one migration mechanism: numbered SQL files applied once under a lock.

Migrations are plain ``NNNN_name.sql`` files in a package's ``migrations`` folder. The shared
library's own tables (outbox, inbox) are applied first, then the service's. Every file runs in its
own transaction and is recorded in ``schema_migrations``; a PostgreSQL advisory lock makes
concurrent starts (several replicas, a migration job) apply each file exactly once.
"""

import json
from dataclasses import dataclass
from importlib import resources
from types import ModuleType
from typing import TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from talent_shared.logging import get_logger

MIGRATION_LOCK_ID = 7_461_722_001  # any constant; only our migrations take this advisory lock

log = get_logger(__name__)

Pool: TypeAlias = "asyncpg.Pool[asyncpg.Record]"
# What a function gets from `pool.acquire()` or a plain connection.
Connection: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"


async def _init_connection(connection: asyncpg.Connection) -> None:
    for json_type in ("json", "jsonb"):
        await connection.set_type_codec(
            json_type, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Release without asyncpg's reset query (advisory unlock all, CLOSE ALL, UNLISTEN, RESET
    ALL): a round trip on every release, about a tenth of a sign-up's time. Our code leaves no
    session state behind: no SET, LISTEN or WITH HOLD cursor, and the one session-level lock
    (migrations) is released by its holder. asyncpg still rolls back a transaction left open
    before this runs."""
    del connection


async def create_pool(database_url: str, *, max_size: int = 10) -> Pool:
    pool = await asyncpg.create_pool(
        database_url,
        min_size=1,
        max_size=max_size,
        command_timeout=30,
        init=_init_connection,
        reset=_keep_session,
    )
    assert pool is not None
    return pool


class Database:
    """A service's connection pool, opened when the service starts. Handlers and background work
    are given this at assembly, before there is a pool, and read :attr:`pool` when they run."""

    def __init__(self, url: str, *, max_size: int = 10) -> None:
        self._url = url
        self._max_size = max_size
        self._pool: Pool | None = None

    @classmethod
    def of(cls, pool: Pool) -> "Database":
        """An already open pool (tests, tools)."""
        database = cls("")
        database._pool = pool
        return database

    @property
    def pool(self) -> Pool:
        if self._pool is None:
            raise RuntimeError("the database pool is opened when the service starts")
        return self._pool

    @property
    def is_open(self) -> bool:
        return self._pool is not None

    async def open(self) -> Pool:
        self._pool = await create_pool(self._url, max_size=self._max_size)
        return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


async def database_is_reachable(pool: Pool, *, timeout: float = 2.0) -> bool:
    try:
        async with pool.acquire(timeout=timeout) as connection:
            await connection.fetchval("SELECT 1", timeout=timeout)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return False
    return True


@dataclass(frozen=True)
class Migration:
    name: str
    sql: str


def migrations_in(package: ModuleType | str, *, namespace: str) -> list[Migration]:
    """The ``NNNN_*.sql`` files of ``package.migrations``, in number order."""
    folder = resources.files(package).joinpath("migrations")
    if not folder.is_dir():
        return []
    files = sorted(
        (entry for entry in folder.iterdir() if entry.name.endswith(".sql")),
        key=lambda entry: entry.name,
    )
    return [Migration(f"{namespace}/{entry.name}", entry.read_text("utf-8")) for entry in files]


async def apply_migrations(pool: Pool, migrations: list[Migration]) -> list[str]:
    """Apply the migrations not applied yet; returns the names applied by this call."""
    applied_now: list[str] = []
    async with pool.acquire() as connection:
        await connection.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_ID)
        try:
            await connection.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       name text PRIMARY KEY,
                       applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            done = {
                row["name"] for row in await connection.fetch("SELECT name FROM schema_migrations")
            }
            for migration in migrations:
                if migration.name in done:
                    continue
                async with connection.transaction():
                    await connection.execute(migration.sql)
                    await connection.execute(
                        "INSERT INTO schema_migrations (name) VALUES ($1)", migration.name
                    )
                applied_now.append(migration.name)
                log.info("migration applied", migration=migration.name)
        finally:
            await connection.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_ID)
    return applied_now


def shared_migrations() -> list[Migration]:
    return migrations_in("talent_shared", namespace="shared")
