"""Talking to the real infrastructure of the tests: the local runner `make test` starts
(deploy/local/infra.sh), or containers (TEST_INFRA=containers, tests/support/containers.py)."""

import asyncio
import os
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg

from talent_shared.db import Pool, apply_migrations, create_pool
from talent_shared.runtime import all_migrations

REPO_ROOT = Path(__file__).resolve().parents[2]
INFRA_SCRIPT = REPO_ROOT / "deploy" / "local" / "infra.sh"


# Read when used, not at import: the containers plugin sets them once the session has started.
def kafka_bootstrap() -> str:
    return os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")


def postgres_admin_url() -> str:
    return os.environ.get("TEST_POSTGRES_URL", "postgresql://talent:talent@127.0.0.1:5432/postgres")


def __getattr__(name: str) -> str:
    """KAFKA_BOOTSTRAP, for scripts that import it by that name (bench/)."""
    if name == "KAFKA_BOOTSTRAP":
        return kafka_bootstrap()
    raise AttributeError(name)


def port_answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_infrastructure() -> None:
    host, port = kafka_bootstrap().split(",")[0].rsplit(":", 1)
    postgres = urlsplit(postgres_admin_url())
    needed = {
        "Kafka": (host, int(port)),
        "PostgreSQL": (postgres.hostname or "127.0.0.1", postgres.port or 5432),
    }
    missing = [name for name, address in needed.items() if not port_answers(*address)]
    if missing:
        raise RuntimeError(
            f"{', '.join(missing)} not reachable: run the tests with `make test`, "
            "which starts the local infrastructure first"
        )


def infra(*args: str) -> None:
    """Run deploy/local/infra.sh (used by tests that stop and start a real broker)."""
    subprocess.run(["bash", str(INFRA_SCRIPT), *args], check=True, capture_output=True)


def database_url(name: str) -> str:
    return postgres_admin_url().rsplit("/", 1)[0] + f"/{name}"


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


async def eventually(check, *, timeout: float = 10.0, interval: float = 0.1):  # type: ignore[no-untyped-def]
    """Poll ``check`` (an async callable) until it returns a truthy value or time runs out."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result or asyncio.get_running_loop().time() > deadline:
            return result
        await asyncio.sleep(interval)
