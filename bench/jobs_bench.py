"""Benchmark of the jobs service on this machine: job-view ingest and the projector.

Each figure is printed beside a baseline measured in the same run on the same broker/database:
- ingest: POST /v1/job-views (HTTP, validation, Kafka ack) vs raw aiokafka `send_and_wait`
  with the same concurrency and acks=all;
- batch ingest: POST /v1/job-views/batch with BATCH_EVENTS events per request, in events per
  second, vs raw aiokafka sending the same batches (send all, then await every ack);
- projector: JobViewed events from Kafka into the recently-viewed table vs raw asyncpg
  `executemany` upserts of the same rows.

Run with the local infrastructure up: `make bench` (or `.venv/bin/python bench/jobs_bench.py`).
Not a test: it asserts nothing and only prints numbers.
"""

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from talent_shared.events import VIEWS_TOPIC, JobViewed, new_event
from tests.support.fixtures import ADMIN_HEADERS
from tests.support.infra import KAFKA_BOOTSTRAP, fresh_database, require_infrastructure
from tests.support.processes import start_service


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


def percentile(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100)[int(p) - 1] * 1000


WRK_SCRIPT = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  local body = string.format('{"visitor_id": "bench-%d", "job_id": "%s"}', math.random(500), "JOB")
  return wrk.format(nil, "/v1/job-views", nil, body)
end
"""


BATCH_EVENTS = 100
BATCH_CONCURRENCY = 8
# Twenty different bodies made once, so wrk spends its time sending, not building strings.
WRK_BATCH_SCRIPT = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local bodies = {}
for b = 1, 20 do
  local events = {}
  for i = 1, EVENTS do
    events[i] = string.format('{"visitor_id": "batch-%d", "job_id": "%s"}', math.random(500), "JOB")
  end
  bodies[b] = '{"events": [' .. table.concat(events, ",") .. ']}'
end
request = function()
  return wrk.format(nil, "/v1/job-views/batch", nil, bodies[math.random(20)])
end
"""


def bench_ingest(
    url: str, job_id: str, seconds: int, concurrency: int, script_text: str = WRK_SCRIPT
) -> tuple[float, ...]:
    """Drive the service with wrk (a Python client would be the bottleneck here); requests per
    second, p50 and p99 latency in ms."""
    if shutil.which("wrk") is None:
        sys.exit("bench: needs wrk (Debian package wrk; `make bench` installs it)")
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(script_text.replace("JOB", job_id))
        script.flush()
        command = [
            "wrk",
            "-t2",
            f"-c{concurrency}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            script.name,
            url,
        ]
        subprocess.run([*command[:3], "-d2s", *command[4:]], check=True, capture_output=True)
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    if "Non-2xx" in output:
        sys.exit(f"bench: some job views were refused:\n{output}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    return rate, _wrk_latency(output, "50%"), _wrk_latency(output, "99%")


def _wrk_latency(output: str, label: str) -> float:
    match = re.search(rf"{re.escape(label)}\s+([\d.]+)(us|ms|s)", output)
    assert match is not None, output
    value, unit = float(match.group(1)), match.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


async def bench_raw_producer(
    total_requests: int, concurrency: int, events_per_request: int = 1
) -> tuple[float, ...]:
    """Events per second, and p50/p99 ms per request, of raw aiokafka (acks=all, idempotent)
    sending ``events_per_request`` events and awaiting all their acks: what the single and the
    batch endpoints do inside."""
    producer = AIOKafkaProducer(
        bootstrap_servers=KAFKA_BOOTSTRAP, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    payload = new_event(
        JobViewed(visitor_id="raw", job_id=uuid.uuid4(), viewed_at=datetime.now(UTC)),
        producer="bench",
    ).to_bytes()
    try:

        async def send(i: int) -> None:
            pending = [
                await producer.send(VIEWS_TOPIC, payload, key=f"raw-{(i + n) % 500}".encode())
                for n in range(events_per_request)
            ]
            await asyncio.gather(*pending)

        seconds, latencies = await timed_concurrently(total_requests, concurrency, send)
    finally:
        await producer.stop()
    events_per_second = total_requests * events_per_request / seconds
    return events_per_second, percentile(latencies, 50), percentile(latencies, 99)


async def bench_projector(database_url: str, job_ids: list[str], total: int) -> float:
    """Publish ``total`` views as fast as Kafka takes them; time until all are projected."""
    visitors = [f"proj-{uuid.uuid4().hex[:8]}-{n}" for n in range(total // len(job_ids))]
    base = datetime(2026, 1, 1, tzinfo=UTC)
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA_BOOTSTRAP, acks="all", linger_ms=5)
    await producer.start()
    connection = await asyncpg.connect(database_url)
    try:
        started = time.perf_counter()
        futures = []
        for v, visitor in enumerate(visitors):
            for j, job_id in enumerate(job_ids):
                event = new_event(
                    JobViewed(
                        visitor_id=visitor,
                        job_id=job_id,
                        viewed_at=base + timedelta(seconds=v * 100 + j),
                    ),
                    producer="bench",
                )
                futures.append(
                    await producer.send(VIEWS_TOPIC, event.to_bytes(), key=visitor.encode())
                )
        await asyncio.gather(*futures)
        expected = len(visitors) * len(job_ids)
        projected = 0
        while projected < expected:
            await asyncio.sleep(0.05)
            projected = await connection.fetchval(
                "SELECT count(*) FROM recently_viewed WHERE visitor_id = ANY($1)", visitors
            )
        return expected / (time.perf_counter() - started)
    finally:
        await connection.close()
        await producer.stop()


async def catch_up(database_url: str, job_id: str) -> None:
    """A fresh consumer group starts at the beginning of the topic: let the projector work through
    the history (earlier runs, the ingest phase) before timing, or the backlog would be measured."""
    marker = f"marker-{uuid.uuid4().hex}"
    event = new_event(
        JobViewed(visitor_id=marker, job_id=job_id, viewed_at=datetime.now(UTC)), producer="bench"
    )
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA_BOOTSTRAP, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(VIEWS_TOPIC, event.to_bytes(), key=marker.encode())
    finally:
        await producer.stop()
    connection = await asyncpg.connect(database_url)
    try:
        projected = False
        while not projected:
            await asyncio.sleep(0.1)
            projected = bool(
                await connection.fetchval(
                    "SELECT true FROM recently_viewed WHERE visitor_id = $1", marker
                )
            )
    finally:
        await connection.close()


async def bench_raw_upserts(database_url: str, job_ids: list[str], total: int) -> float:
    connection = await asyncpg.connect(database_url)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [
        (
            f"raw-{n // len(job_ids)}-{uuid.uuid4().hex[:6]}",
            uuid.UUID(job_ids[n % len(job_ids)]),
            base + timedelta(seconds=n),
        )
        for n in range(total)
    ]
    try:
        started = time.perf_counter()
        await connection.executemany(
            """INSERT INTO recently_viewed (visitor_id, job_id, viewed_at) VALUES ($1, $2, $3)
               ON CONFLICT (visitor_id, job_id)
               DO UPDATE SET viewed_at = greatest(recently_viewed.viewed_at, excluded.viewed_at)""",
            rows,
        )
        return total / (time.perf_counter() - started)
    finally:
        await connection.close()


async def bench_view_to_visible(url: str, job_id: str, samples: int = 50) -> tuple[float, float]:
    """(p50, p99) ms from a 202 for one view to the view showing in recently-viewed."""
    latencies = []
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        for n in range(samples):
            visitor = f"latency-{uuid.uuid4().hex[:8]}-{n}"
            response = await client.post(
                "/v1/job-views", json={"visitor_id": visitor, "job_id": job_id}
            )
            assert response.status_code == 202, response.text
            accepted = time.perf_counter()
            items: list[object] = []
            while not items:
                page = await client.get(f"/v1/visitors/{visitor}/recently-viewed")
                items = page.json()["items"]
            latencies.append(time.perf_counter() - accepted)
    return percentile(latencies, 50), percentile(latencies, 99)


async def main(seconds: int, concurrency: int, views: int) -> None:
    require_infrastructure()
    async with fresh_database("bench_jobs") as database_url:
        with tempfile.TemporaryDirectory() as logs:
            jobs = start_service("jobs", database_url, Path(logs), LOG_LEVEL="WARNING")
            try:
                await asyncio.to_thread(jobs.wait_ready)
                async with httpx.AsyncClient(base_url=jobs.url) as client:
                    job_ids = []
                    for n in range(10):
                        response = await client.post(
                            "/v1/jobs",
                            headers=ADMIN_HEADERS,
                            json={
                                "title": f"Bench job {n}",
                                "category": "Nursing",
                                "location": "Durham, NC",
                                "description": "Benchmark",
                            },
                        )
                        job_ids.append(response.json()["job_id"])
                await catch_up(database_url, job_ids[0])
                visible = await bench_view_to_visible(jobs.url, job_ids[0])
                ingest = await asyncio.to_thread(
                    bench_ingest, jobs.url, job_ids[0], seconds, concurrency
                )
                raw = await bench_raw_producer(int(ingest[0] * seconds), concurrency)
                batch_script = WRK_BATCH_SCRIPT.replace("EVENTS", str(BATCH_EVENTS))
                batches = await asyncio.to_thread(
                    bench_ingest, jobs.url, job_ids[0], seconds, BATCH_CONCURRENCY, batch_script
                )
                raw_batches = await bench_raw_producer(
                    int(batches[0] * seconds), BATCH_CONCURRENCY, BATCH_EVENTS
                )
                await catch_up(database_url, job_ids[0])
                projector = await bench_projector(database_url, job_ids, views)
                upserts = await bench_raw_upserts(database_url, job_ids, views)
            finally:
                jobs.terminate()
    print_table(seconds, concurrency, views, ingest, raw, projector, upserts)
    print_batch_row(batches, raw_batches)
    print(
        f"\nview to visible in recently-viewed (one at a time, 50 views): "
        f"p50 {visible[0]:.1f} ms, p99 {visible[1]:.1f} ms"
    )


def print_table(
    seconds: int,
    concurrency: int,
    views: int,
    ingest: tuple[float, ...],
    raw: tuple[float, ...],
    projector: float,
    upserts: float,
) -> None:
    print(
        f"\njobs service benchmark, {datetime.now(UTC):%Y-%m-%d}, {os.cpu_count()} cores: "
        f"ingest driven by wrk for {seconds}s at concurrency {concurrency}; "
        f"{views} views projected\n"
    )
    print("| measurement | this service | baseline (same run) | baseline is |")
    print("|---|---|---|---|")
    print(
        f"| job-view ingest (HTTP, 202 after Kafka ack) | {ingest[0]:,.0f} req/s "
        f"(p50 {ingest[1]:.1f} ms, p99 {ingest[2]:.1f} ms) | {raw[0]:,.0f} msg/s "
        f"(p50 {raw[1]:.1f} ms, p99 {raw[2]:.1f} ms) "
        "| raw aiokafka, one event sent and its ack awaited (acks=all), same concurrency |"
    )
    print(
        f"| recently-viewed projector (Kafka to PostgreSQL) | {projector:,.0f} events/s "
        f"| {upserts:,.0f} rows/s | raw asyncpg executemany upserts, no Kafka |"
    )


def print_batch_row(batches: tuple[float, ...], raw_batches: tuple[float, ...]) -> None:
    events_per_second = batches[0] * BATCH_EVENTS
    print(
        f"| job-view batch ingest ({BATCH_EVENTS} events per request, concurrency "
        f"{BATCH_CONCURRENCY}, 202 after every ack) | {events_per_second:,.0f} events/s "
        f"(p50 {batches[1]:.1f} ms, p99 {batches[2]:.1f} ms per batch) "
        f"| {raw_batches[0]:,.0f} events/s (p50 {raw_batches[1]:.1f} ms, "
        f"p99 {raw_batches[2]:.1f} ms per batch) "
        "| raw aiokafka: the same batches sent, then every ack awaited |"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--views", type=int, default=20000)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.seconds, arguments.concurrency, arguments.views))
