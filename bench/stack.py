"""The stack under bench, as `make up` runs it: the three services, one process each
(`python -m talent_<service> serve`, the jobs service with its projector inside), INFO logs, the
shipped settings, behind the local nginx gateway; only the ports, the databases and the mail
server are the bench's own. The databases are new ones, empty or holding the reference data
set (`make seed-scale`).

Three settings differ from `make up`, and why: a consumer group prefix of its own and
KAFKA_AUTO_OFFSET_RESET=latest (new groups would otherwise replay every event kept on the
broker), and the gateway's INGEST_RATE_PER_IP raised: the load of thousands of visitors comes
from one client address here, and the per-address limit would refuse it.
"""

import asyncio
import os
import random
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench.common import MemorySampler, connected
from bench.reference_data import job_like_ours
from bench.seed_scale import Targets, seed
from bench.sink import SmtpSink, smtp_sink
from deploy.gateway.routes import INGEST_RATE_VARIABLE
from deploy.local.gateway import Gateway
from devsupport.databases import fresh_database
from devsupport.infra import REPO_ROOT, kafka_bootstrap
from devsupport.ports import free_port
from devsupport.services import ADMIN_HEADERS, ServiceProcess

SERVICES = ("signup", "jobs", "notifications")
LOAD_INGEST_RATE = "1000000r/s"


@dataclass(frozen=True)
class Stack:
    services: dict[str, ServiceProcess]
    databases: Targets
    gateway: Gateway
    sink: SmtpSink
    mail_domain: str  # of the notifications service's Message-IDs
    group_prefix: str
    memory: dict[str, MemorySampler]
    seeded: bool

    @property
    def url(self) -> str:
        """The public origin: every request of the bench goes through the gateway."""
        return self.gateway.url

    def group(self, service: str, consumer: str) -> str:
        return f"{self.group_prefix}{service}.{consumer}"

    async def open_job_ids(self, limit: int) -> list[str]:
        async with connected(self.databases.jobs) as jobs:
            rows = await jobs.fetch(
                "SELECT job_id FROM jobs WHERE status = 'open' ORDER BY job_id LIMIT $1", limit
            )
        return [str(row["job_id"]) for row in rows]


def shipped_environment(
    *, sink_port: int, gateway_url: str, group_prefix: str, mail_domain: str
) -> dict[str, str]:
    """The caller's environment as `make up` passes it on, less what points elsewhere (a
    service's own port or database would win over the bench's), plus the bench's parts."""
    pointing = {"DATABASE_URL", "HTTP_PORT", "HTTP_HOST"}
    pointing |= {f"{s.upper()}_{v}" for s in SERVICES for v in ("DATABASE_URL", "HTTP_PORT")}
    return {
        **{name: value for name, value in os.environ.items() if name not in pointing},
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap(),
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(sink_port),
        "PUBLIC_BASE_URL": gateway_url,
        "HTTP_HOST": "127.0.0.1",
        "KAFKA_CONSUMER_GROUP_PREFIX": group_prefix,
        "KAFKA_AUTO_OFFSET_RESET": "latest",
        "MAIL_FROM": f"Talent Network <talent-network@{mail_domain}>",
        "PYTHONUNBUFFERED": "1",
    }


def launch(
    name: str, environment: dict[str, str], logs: Path, *, database_url: str, port: int
) -> ServiceProcess:
    """``python -m talent_<name> serve``, the command `make up` runs."""
    log_path = logs / f"{name}-{port}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", f"talent_{name}", "serve"],
            cwd=REPO_ROOT,
            env={**environment, "DATABASE_URL": database_url, "HTTP_PORT": str(port)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return ServiceProcess(name=name, port=port, process=process, log_path=log_path)


@asynccontextmanager
async def fresh_databases() -> AsyncIterator[Targets]:
    async with AsyncExitStack() as stack:
        urls = [await stack.enter_async_context(fresh_database(f"bench_{s}")) for s in SERVICES]
        yield Targets(*urls)


@asynccontextmanager
async def shipped_stack(
    directory: Path, databases: Targets, *, seeded: bool
) -> AsyncIterator[Stack]:
    """The stack on ``databases``; stopped (SIGTERM, as `make down` does) when done."""
    mail_domain = f"bench-{uuid.uuid4().hex[:8]}.example.org"
    group_prefix = f"bench-{uuid.uuid4().hex[:8]}."
    ports = {name: free_port() for name in SERVICES}
    gateway = Gateway(free_port(), directory, ports)
    async with smtp_sink(directory) as sink:
        environment = shipped_environment(
            sink_port=sink.port, gateway_url=gateway.url, group_prefix=group_prefix,
            mail_domain=mail_domain,
        )  # fmt: skip
        urls = {"signup": databases.signup, "jobs": databases.jobs}
        urls["notifications"] = databases.notifications
        services = {
            name: launch(name, environment, directory, database_url=urls[name], port=ports[name])
            for name in SERVICES
        }
        memory = {name: MemorySampler([p.process.pid]) for name, p in services.items()}
        try:
            await asyncio.gather(*(asyncio.to_thread(p.wait_ready, 120) for p in services.values()))
            os.environ[INGEST_RATE_VARIABLE] = LOAD_INGEST_RATE
            await asyncio.to_thread(gateway.start)
            for sampler in memory.values():
                sampler.start()
            yield Stack(
                services, databases, gateway, sink, mail_domain, group_prefix, memory, seeded
            )
        finally:
            for sampler in memory.values():
                await sampler.stop()
            await asyncio.to_thread(gateway.stop)
            for service in services.values():
                await asyncio.to_thread(service.terminate)


async def post_jobs(stack: Stack, count: int) -> None:
    """Jobs of the reference spreads, without requisition ids, through POST /v1/jobs: what the
    views of the empty databases' run are of."""
    rng = random.Random("bench jobs")
    async with aiohttp.ClientSession(stack.url, headers=ADMIN_HEADERS) as client:
        for n in range(count):
            job = job_like_ours(rng, n, "").feed_entry()
            del job["requisition_id"]
            async with client.post("/v1/jobs", json=job) as response:
                response.raise_for_status()


async def seeded_databases(databases: Targets) -> float:
    """Loads the reference data set; the seconds it took."""
    started = asyncio.get_running_loop().time()
    await seed(databases)
    return asyncio.get_running_loop().time() - started
