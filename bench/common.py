"""What the benchmarks share: concurrency, percentiles, wrk, memory sampling and a jobs service
with a catalogue on a fresh database."""

import asyncio
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from devsupport.databases import fresh_database
from devsupport.services import ADMIN_HEADERS, ServiceProcess, start_service

MB = 1024 * 1024


async def timed_concurrently(
    total: int, concurrency: int, work: Callable[[int], Awaitable[None]]
) -> tuple[float, list[float]]:
    """Run ``work(i)`` for i < total with ``concurrency`` workers; (seconds, latencies)."""
    latencies: list[float] = []
    counter = iter(range(total))

    async def worker() -> None:
        for i in counter:
            started = time.perf_counter()
            await work(i)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies


def percentile(seconds: Sequence[float], p: float) -> float:
    """The p-th percentile of ``seconds``, in milliseconds."""
    return statistics.quantiles(seconds, n=100)[int(p) - 1] * 1000


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float


def run_wrk(url: str, script: str, *, seconds: int, concurrency: int, warmup: int = 2) -> WrkResult:
    """Drive ``url`` with wrk and a Lua ``script`` (a Python client would be the bottleneck);
    a short warm-up run first. Exits when any response was not 2xx."""
    if shutil.which("wrk") is None:
        sys.exit("bench: needs wrk (Debian package wrk; `make bench` installs it)")
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        lua.write(script)
        lua.flush()

        def wrk(duration: int) -> str:
            command = ["wrk", "-t2", f"-c{concurrency}", f"-d{duration}s", "--latency"]
            command += ["-s", lua.name, url]
            return subprocess.run(command, check=True, capture_output=True, text=True).stdout

        if warmup:
            wrk(warmup)
        output = wrk(seconds)
    if "Non-2xx" in output:
        sys.exit(f"bench: some requests were refused:\n{output}")
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    assert rate is not None, output
    return WrkResult(float(rate.group(1)), _wrk_ms(output, "50%"), _wrk_ms(output, "99%"))


def _wrk_ms(output: str, label: str) -> float:
    match = re.search(rf"{re.escape(label)}\s+([\d.]+)(us|ms|s)", output)
    assert match is not None, output
    value, unit = float(match.group(1)), match.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


@dataclass
class MemorySampler:
    """Resident memory of a service (its processes and any worker processes), in MB: idle is
    the largest process once the service is ready, peak the largest single process seen while
    sampling."""

    pids: Sequence[int]
    idle_mb: float = 0.0
    peak_mb: float = 0.0
    _task: asyncio.Task[None] | None = field(default=None, repr=False)

    def _processes_mb(self) -> list[float]:
        sizes = [0.0]
        for pid in self.pids:
            try:
                root = psutil.Process(pid)
                processes = [root, *root.children(recursive=True)]
                sizes += [process.memory_info().rss / MB for process in processes]
            except psutil.Error:
                continue
        return sizes

    async def _sample(self) -> None:
        while True:
            self.peak_mb = max(self.peak_mb, *self._processes_mb())
            await asyncio.sleep(0.2)

    def start(self) -> None:
        self.idle_mb = max(self._processes_mb())
        self._task = asyncio.get_running_loop().create_task(self._sample())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


@dataclass(frozen=True)
class JobsUnderBench:
    """The jobs service as deployed for heavy ingest: a process that answers HTTP without the
    projector (RUN_PROJECTOR=false) and one that projects; both share the two cores."""

    service: ServiceProcess
    projector: ServiceProcess
    database_url: str
    job_ids: list[str]
    memory: MemorySampler

    @property
    def url(self) -> str:
        return self.service.url


@asynccontextmanager
async def jobs_under_bench(logs: Path, jobs: int = 10, **env: str) -> AsyncIterator[JobsUnderBench]:
    """The jobs service on a fresh database, with ``jobs`` open jobs posted through its API."""
    async with fresh_database("bench_jobs") as database_url:
        # "latest": a new consumer group would otherwise replay every view kept on the topic
        # (hundreds of thousands after `make test`) while the bench measures.
        settings = {
            "LOG_LEVEL": "WARNING",
            "KAFKA_AUTO_OFFSET_RESET": "latest",
            # One service: its processes share the consumer groups, as replicas do.
            "KAFKA_CONSUMER_GROUP_PREFIX": f"bench-{uuid.uuid4().hex[:8]}.",
            **env,
        }
        service = start_service("jobs", database_url, logs, RUN_PROJECTOR="false", **settings)
        projector = start_service("jobs", database_url, logs, label="jobs-projector", **settings)
        memory = MemorySampler([service.process.pid, projector.process.pid])
        try:
            await asyncio.gather(*(asyncio.to_thread(p.wait_ready) for p in (service, projector)))
            memory.start()
            job_ids = await _post_jobs(service.url, jobs)
            await _projector_joined(service.url, job_ids[0])
            yield JobsUnderBench(service, projector, database_url, job_ids, memory)
        finally:
            await memory.stop()
            service.terminate()
            projector.terminate()


async def _projector_joined(url: str, job_id: str) -> None:
    """Until a view shows in recently-viewed: with "latest", views sent before the projector's
    group has its partitions are never projected, so one is sent again each second."""
    visitor = f"bench-warm-up-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        for _ in range(60):
            view = {"visitor_id": visitor, "job_id": job_id}
            (await client.post("/v1/job-views", json=view)).raise_for_status()
            for _ in range(10):
                page = await client.get(f"/v1/visitors/{visitor}/recently-viewed")
                if page.json()["items"]:
                    return
                await asyncio.sleep(0.1)
    sys.exit("bench: the jobs service's projector did not start within 60 s")


async def _post_jobs(url: str, count: int) -> list[str]:
    async with httpx.AsyncClient(base_url=url, headers=ADMIN_HEADERS) as client:
        job_ids = []
        for n in range(count):
            response = await client.post(
                "/v1/jobs",
                json={
                    "title": f"Bench job {n}",
                    "category": "Nursing",
                    "location": "Durham, NC",
                    "description": "Benchmark",
                },
            )
            response.raise_for_status()
            job_ids.append(response.json()["job_id"])
    return job_ids


@dataclass(frozen=True)
class Options:
    """Command-line knobs every measure may read."""

    seconds: int = 10
    concurrency: int = 64
    views: int = 20_000
