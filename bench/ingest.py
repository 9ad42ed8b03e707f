"""Job-view ingest through the gateway: POST /v1/job-views and POST /v1/job-views/batch (wrk)
against raw aiokafka sending as many events with acks=all (what both endpoints do inside
before answering 202). The views are of open jobs, by the reference data set's visitors when it
is loaded (each with a list the projector keeps trimmed to 50)."""

import asyncio
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer

from bench.common import Options, WrkResult, percentile, run_wrk, timed_concurrently
from bench.reference_data import VISITOR_PREFIX
from bench.stack import Stack
from bench.table import Goal, Row
from devsupport.infra import kafka_bootstrap
from talent_shared.envelope import new_event
from talent_shared.events import VIEWS_TOPIC, JobViewed

VISITORS = 400_000  # about the reference data set's
JOBS = 200
BATCH_EVENTS = 100
BATCH_CONCURRENCY = 8
RAW_IS = "raw aiokafka, acks=all, idempotent, same concurrency"

# A random visitor and job per view, built in Lua so wrk spends its time sending.
VIEW = """local function view()
  return string.format('{"visitor_id": "%s%07d", "job_id": "%s"}',
                       PREFIX, math.random(VISITORS) - 1, jobs[math.random(#jobs)])
end
"""
SINGLE_SCRIPT = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
jobs = {JOBS}
VIEW
request = function() return wrk.format(nil, "/v1/job-views", nil, view()) end
"""
# Twenty bodies made once.
BATCH_SCRIPT = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
jobs = {JOBS}
VIEW
local bodies = {}
for b = 1, 20 do
  local events = {}
  for i = 1, EVENTS do events[i] = view() end
  bodies[b] = '{"events": [' .. table.concat(events, ",") .. ']}'
end
request = function()
  return wrk.format(nil, "/v1/job-views/batch", nil, bodies[math.random(20)])
end
"""


def lua_views(script: str, job_ids: list[str], visitor_prefix: str) -> str:
    """``script`` with its views drawn from ``job_ids`` and VISITORS visitors."""
    jobs = "{" + ", ".join(f'"{job_id}"' for job_id in job_ids) + "}"
    view = VIEW.replace("PREFIX", f'"{visitor_prefix}"').replace("VISITORS", str(VISITORS))
    return script.replace("VIEW", view).replace("{JOBS}", jobs).replace("EVENTS", str(BATCH_EVENTS))


def visitor_prefix(stack: Stack) -> str:
    return VISITOR_PREFIX if stack.seeded else "load-"


async def measure(stack: Stack, options: Options) -> list[Row]:
    job_ids = await stack.open_job_ids(JOBS)

    async def wrk(script: str, concurrency: int) -> WrkResult:
        lua = lua_views(script, job_ids, visitor_prefix(stack))
        return await asyncio.to_thread(
            run_wrk, stack.url, lua, seconds=options.seconds, concurrency=concurrency
        )

    single = await wrk(SINGLE_SCRIPT, options.concurrency)
    batches = await wrk(BATCH_SCRIPT, BATCH_CONCURRENCY)
    raw_single = await raw_producer(int(single.requests_per_second * options.seconds), options)
    raw_batches = await raw_producer(
        int(batches.requests_per_second * options.seconds), options, BATCH_EVENTS
    )
    return [
        Row("ingest.single", f"job-view ingest, one per request (wrk, concurrency "
            f"{options.concurrency})", single.requests_per_second, "req/s",
            Goal("ratio_at_least", 0.3), raw_single.requests_per_second,
            f"{RAW_IS} (p99 {raw_single.p99_ms:.1f} ms)",
            f"p50 {single.p50_ms:.1f} ms, p99 {single.p99_ms:.1f} ms"),
        Row("ingest.batched", f"job-view ingest, batched ({BATCH_EVENTS} per request, "
            f"concurrency {BATCH_CONCURRENCY})", batches.requests_per_second * BATCH_EVENTS,
            "events/s", Goal("ratio_at_least", 0.3),
            raw_batches.requests_per_second * BATCH_EVENTS,
            f"{RAW_IS}: the same batches sent, then every ack awaited",
            f"p50 {batches.p50_ms:.1f} ms, p99 {batches.p99_ms:.1f} ms per batch"),
    ]  # fmt: skip


async def raw_producer(
    total_requests: int, options: Options, events_per_request: int = 1
) -> WrkResult:
    """Requests per second, p50/p99 ms per request, of raw aiokafka sending
    ``events_per_request`` events per request and awaiting all their acks."""
    concurrency = options.concurrency if events_per_request == 1 else BATCH_CONCURRENCY
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap(), acks="all", enable_idempotence=True, linger_ms=5
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
    return WrkResult(total_requests / seconds, percentile(latencies, 50), percentile(latencies, 99))
