"""What the measures share: concurrency, percentiles, wrk, vegeta and memory sampling."""

import asyncio
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import psutil

from devsupport.infra import REPO_ROOT

MB = 1024 * 1024
VEGETA = REPO_ROOT / ".local" / "tools" / "bin" / "vegeta"
MAX_IN_FLIGHT = 128


@asynccontextmanager
async def connected(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """One connection for a measure's own reads, closed however they end."""
    connection = await asyncpg.connect(database_url)
    try:
        yield connection
    finally:
        await connection.close()


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


async def until(
    condition: Callable[[], Awaitable[bool]], *, every: float, timeout: float, what: str
) -> float:
    """Seconds until ``condition()`` holds, asked every ``every`` seconds; past ``timeout``,
    TimeoutError saying ``what`` was awaited."""
    started = time.monotonic()
    while not await condition():
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"bench: still waiting after {timeout:.0f} s for {what}")
        await asyncio.sleep(every)
    return time.monotonic() - started


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


def vegeta(targets: str, rate: int, seconds: int, target_format: str = "http") -> dict[str, Any]:
    """vegeta's JSON report of ``seconds`` at ``rate`` requests/s over ``targets``."""
    if not VEGETA.exists() and shutil.which("vegeta") is None:
        sys.exit("bench: needs vegeta (`python -m deploy.local tools` puts it in .local/tools/bin)")
    binary = str(VEGETA) if VEGETA.exists() else "vegeta"
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as file:
        file.write(targets)
        file.flush()
        # At most MAX_IN_FLIGHT requests at a time: past 256, the gateway (512
        # worker_connections, two a request) would refuse connections, not queue them.
        attack = [binary, "attack", f"-rate={rate}", f"-duration={seconds}s"]
        attack += [f"-max-workers={MAX_IN_FLIGHT}"]
        attack += [f"-targets={file.name}", f"-format={target_format}"]
        results = subprocess.run(attack, check=True, capture_output=True).stdout
    report = subprocess.run(
        [binary, "report", "-type=json"], input=results, check=True, capture_output=True
    ).stdout
    parsed: dict[str, Any] = json.loads(report)
    return parsed


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
class Options:
    """Command-line knobs every measure may read."""

    seconds: int = 10
    concurrency: int = 64
    views: int = 20_000
