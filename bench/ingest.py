"""Job-view ingest: POST /v1/job-views and POST /v1/job-views/batch against raw aiokafka sending
the same events with acks=all (what both endpoints do inside before answering 202)."""

import asyncio
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer

from bench.common import JobsUnderBench, Options, WrkResult, percentile, run_wrk, timed_concurrently
from bench.table import Goal, Row
from devsupport.infra import kafka_bootstrap
from talent_shared.envelope import new_event
from talent_shared.events import VIEWS_TOPIC, JobViewed

# One job view per request, from 500 visitors (the freshness measure uses it as its load too).
SINGLE_VIEW_SCRIPT = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  local body = string.format('{"visitor_id": "load-%d", "job_id": "%s"}', math.random(500), "JOB")
  return wrk.format(nil, "/v1/job-views", nil, body)
end
"""

BATCH_EVENTS = 100
BATCH_CONCURRENCY = 8
# Twenty different bodies made once, so wrk spends its time sending, not building strings.
BATCH_SCRIPT = """wrk.method = "POST"
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
RAW_IS = "raw aiokafka, acks=all, idempotent, same concurrency"


async def measure(jobs: JobsUnderBench, options: Options) -> list[Row]:
    job_id = jobs.job_ids[0]
    single = await asyncio.to_thread(
        run_wrk,
        jobs.url,
        SINGLE_VIEW_SCRIPT.replace("JOB", job_id),
        seconds=options.seconds,
        concurrency=options.concurrency,
    )
    raw_single = await raw_producer(int(single.requests_per_second * options.seconds), options)
    batch_script = BATCH_SCRIPT.replace("JOB", job_id).replace("EVENTS", str(BATCH_EVENTS))
    batches = await asyncio.to_thread(
        run_wrk, jobs.url, batch_script, seconds=options.seconds, concurrency=BATCH_CONCURRENCY
    )
    raw_batches = await raw_producer(
        int(batches.requests_per_second * options.seconds), options, BATCH_EVENTS
    )
    return [
        Row(
            f"job-view ingest, one per request (wrk, concurrency {options.concurrency})",
            single.requests_per_second,
            "req/s",
            Goal("ratio_at_least", 0.3),
            raw_single.requests_per_second,
            f"{RAW_IS} (p99 {raw_single.p99_ms:.1f} ms)",
            f"p50 {single.p50_ms:.1f} ms, p99 {single.p99_ms:.1f} ms",
        ),
        Row(
            f"job-view ingest, batched ({BATCH_EVENTS} per request, concurrency "
            f"{BATCH_CONCURRENCY})",
            batches.requests_per_second * BATCH_EVENTS,
            "events/s",
            Goal("ratio_at_least", 1.0),
            raw_batches.requests_per_second * BATCH_EVENTS,
            f"{RAW_IS}: the same batches sent, then every ack awaited",
            f"p50 {batches.p50_ms:.1f} ms, p99 {batches.p99_ms:.1f} ms per batch",
        ),
    ]


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
