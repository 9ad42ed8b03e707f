"""The three services as real OS processes on fresh databases, logging as verbosely as they can.

Robustness tests drive the processes over real HTTP, exactly as a front end or an attacker would,
and read what each process wrote to its log.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from devsupport.databases import fresh_database
from devsupport.services import ServiceProcess, start_service

SERVICES = ("signup", "jobs", "notifications")


@dataclass
class ProcessStack:
    processes: dict[str, ServiceProcess]

    def url(self, service: str) -> str:
        return self.processes[service].url


@asynccontextmanager
async def process_stack(logs: Path, **env: str) -> AsyncIterator[ProcessStack]:
    """Start signup, jobs and notifications with LOG_LEVEL=DEBUG, each on a fresh database;
    yield once every one answers /readyz; kill them and drop the databases afterwards.

    Consumer groups start at the end of their topics: replaying a shared broker's history (the
    benchmark leaves 100k+ job views) would only slow the processes down under test.
    """
    async with AsyncExitStack() as stack:
        databases = {
            name: await stack.enter_async_context(fresh_database(name)) for name in SERVICES
        }
        processes: dict[str, ServiceProcess] = {}
        try:
            for name in SERVICES:
                processes[name] = start_service(
                    name,
                    databases[name],
                    logs,
                    **{"LOG_LEVEL": "DEBUG", "KAFKA_AUTO_OFFSET_RESET": "latest", **env},
                )
            await asyncio.gather(
                *(asyncio.to_thread(process.wait_ready) for process in processes.values())
            )
            yield ProcessStack(processes)
        finally:
            for process in processes.values():
                process.kill()
