"""The fault stack fixture body: fresh databases, an SMTP server, the services as processes,
warmed up until every consumer is live."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import asyncpg
import httpx

from devsupport.databases import fresh_database
from tests.faults.harness import FaultStack, post_job
from tests.support.smtp import SmtpServer


@asynccontextmanager
async def fault_stack(
    logs: Path, *, replicas: int = 1, env: dict[str, str] | None = None
) -> AsyncIterator[FaultStack]:
    async with AsyncExitStack() as exits:
        smtp = exits.enter_context(SmtpServer())
        databases = {
            name: await exits.enter_async_context(fresh_database(f"faults_{name}"))
            for name in ("signup", "jobs", "notifications")
        }
        stack = FaultStack(
            databases=databases,
            logs=logs,
            smtp=smtp,
            replicas_per_service=replicas,
            extra_env=env or {},
        )
        try:
            # Inside the try: when one replica fails to start, the ones already running must
            # stop too, or they keep consuming (and dead-lettering) in the tests that follow.
            await asyncio.to_thread(stack.start_all)
            await warm_up(stack)
            yield stack
        finally:
            stack.stop_all()


async def warm_up(stack: FaultStack, timeout: float = 90) -> None:
    """New consumer groups start at the end of their topics once assigned: repeat canary
    requests until each consumer has visibly handled one."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=10) as client:
        category = f"canary-{uuid.uuid4().hex[:6]}"
        job_id = await post_job(stack, client, category)
        n = 0
        while not await _projected(stack, f"canary-{n}"):
            n += 1
            await client.post(
                f"{stack.url('jobs')}/v1/job-views",
                json={"visitor_id": f"canary-{n}", "job_id": job_id},
            )
            await _tick(deadline, "the projector")
        while not await _known_to_notifications(stack, job_id):
            job_id = await post_job(stack, client, category)
            await _tick(deadline, "the notifications job consumer", pause=1.0)
        canary = f"canary-{uuid.uuid4().hex[:6]}"
        m = 0
        while not stack.smtp.handler.to(canary):
            m += 1
            await client.post(
                f"{stack.url('signup')}/v1/signups",
                json={
                    "email": f"{canary}-{m}@example.org",
                    "first_name": "C",
                    "last_name": "C",
                    "consent": True,
                },
            )
            await _tick(deadline, "the notifications candidate consumer", pause=1.0)


async def _tick(deadline: float, what: str, pause: float = 0.3) -> None:
    if time.monotonic() > deadline:
        raise AssertionError(f"{what} never became live")
    await asyncio.sleep(pause)


async def _projected(stack: FaultStack, visitor: str) -> bool:
    return await _exists(stack.databases["jobs"], "recently_viewed", "visitor_id", visitor)


async def _known_to_notifications(stack: FaultStack, job_id: str) -> bool:
    return await _exists(stack.databases["notifications"], "jobs", "job_id", uuid.UUID(job_id))


async def _exists(database: str, table: str, column: str, value: object) -> bool:
    connection = await asyncpg.connect(database)
    try:
        return bool(
            await connection.fetchval(f"SELECT true FROM {table} WHERE {column} = $1", value)
        )
    finally:
        await connection.close()
