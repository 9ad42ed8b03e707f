"""The recently-viewed projector: JobViewed events from Kafka into PostgreSQL, against a fair raw
pipeline (aiokafka ``getmany`` → JSON decoding → one asyncpg upsert of the same rows, offsets
committed after the database) fed the same number of events, produced the same way.

The raw pipeline runs as its own process (``python -m bench.projector raw-consumer TOPIC DB``), as
the projector runs in the jobs process, on a topic of its own with as many partitions as the views
topic; both are timed from the first event sent until the last one is in the table.
"""

import asyncio
import json
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.common import JobsUnderBench, Options
from bench.table import Goal, Row
from devsupport.infra import REPO_ROOT, kafka_bootstrap
from devsupport.kafka import partitions_of
from talent_shared.envelope import new_event
from talent_shared.events import VIEWS_TOPIC, JobViewed

BASE = datetime(2026, 1, 1, tzinfo=UTC)
# The projector's conflict rule: newest wins per (visitor, job).
RAW_UPSERT = """INSERT INTO recently_viewed (visitor_id, job_id, viewed_at)
    SELECT * FROM unnest($1::text[], $2::uuid[], $3::timestamptz[])
    ON CONFLICT (visitor_id, job_id)
    DO UPDATE SET viewed_at = greatest(recently_viewed.viewed_at, excluded.viewed_at)"""


async def measure(jobs: JobsUnderBench, options: Options) -> list[Row]:
    await catch_up(jobs.database_url, jobs.job_ids[0])
    projected = await projector_rate(jobs.database_url, jobs.job_ids, options.views)
    raw = await raw_pipeline_rate(jobs.database_url, jobs.job_ids, options.views)
    return [
        Row(
            f"recently-viewed projector ({options.views:,} views)",
            projected,
            "events/s",
            Goal("ratio_at_least", 0.7),
            raw,
            "raw pipeline in its own process: aiokafka getmany → json → one asyncpg upsert "
            "per batch, commit after the DB; same events, same table",
        )
    ]


def bench_visitors(prefix: str, total: int, job_ids: list[str]) -> list[str]:
    return [f"{prefix}-{uuid.uuid4().hex[:8]}-{n}" for n in range(total // len(job_ids))]


def view_events(visitors: list[str], job_ids: list[str]) -> list[tuple[bytes, bytes]]:
    """(key, value) of each visitor's view of every job, serialised before any timing starts."""
    return [
        (
            visitor.encode(),
            new_event(
                JobViewed(
                    visitor_id=visitor,
                    job_id=job_id,
                    viewed_at=BASE + timedelta(seconds=v * 100 + j),
                ),
                producer="bench",
            ).to_bytes(),
        )
        for v, visitor in enumerate(visitors)
        for j, job_id in enumerate(job_ids)
    ]


async def produce(topic: str, events: list[tuple[bytes, bytes]]) -> None:
    """Send every event as fast as Kafka takes them (acks=all), then wait for every ack."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap(), acks="all", linger_ms=5)
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key) for key, value in events]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def timed_until_projected(
    database_url: str, visitors: list[str], expected: int, produce: Callable[[], Awaitable[None]]
) -> float:
    """Events/s from the first event sent until ``expected`` rows of ``visitors`` are stored."""
    connection = await asyncpg.connect(database_url)
    try:
        started = time.perf_counter()
        await produce()
        projected = 0
        while projected < expected:
            await asyncio.sleep(0.02)
            projected = await connection.fetchval(
                "SELECT count(*) FROM recently_viewed WHERE visitor_id = ANY($1)", visitors
            )
        return expected / (time.perf_counter() - started)
    finally:
        await connection.close()


async def projector_rate(database_url: str, job_ids: list[str], total: int) -> float:
    return await _rate_through(VIEWS_TOPIC, "proj", database_url, job_ids, total)


async def _rate_through(
    topic: str, prefix: str, database_url: str, job_ids: list[str], total: int
) -> float:
    """Views/s from producing ``total`` views on ``topic`` until all are in the projection."""
    visitors = bench_visitors(prefix, total, job_ids)
    events = view_events(visitors, job_ids)
    return await timed_until_projected(
        database_url, visitors, len(events), lambda: produce(topic, events)
    )


async def raw_pipeline_rate(database_url: str, job_ids: list[str], total: int) -> float:
    topic = f"bench.raw-views.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap())
    await admin.start()
    try:
        partitions = len(await partitions_of(VIEWS_TOPIC))
        await admin.create_topics([NewTopic(topic, partitions, 1)])
        await partitions_of(topic)
        consumer = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.projector", "raw-consumer", topic, database_url,
            stdout=asyncio.subprocess.PIPE, cwd=REPO_ROOT,
        )  # fmt: skip
        try:
            assert consumer.stdout is not None
            if not await consumer.stdout.readline():  # "ready": partitions assigned
                sys.exit("bench: the raw pipeline's consumer exited before it was ready")
            return await _rate_through(topic, "raw", database_url, job_ids, total)
        finally:
            consumer.terminate()
            await consumer.wait()
    finally:
        await admin.delete_topics([topic])
        await admin.close()


async def raw_consumer(topic: str, database_url: str) -> None:
    """The raw pipeline: decode each batch's JSON, upsert it in one statement, then commit."""
    connection = await asyncpg.connect(database_url)
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap(),
        group_id=f"bench-raw-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    while not consumer.assignment():
        await consumer.getmany(timeout_ms=100)
    print("ready", flush=True)
    while True:
        batches = await consumer.getmany(timeout_ms=50)
        datas = [json.loads(r.value)["data"] for rs in batches.values() for r in rs]
        if not datas:
            continue
        await connection.execute(
            RAW_UPSERT,
            [data["visitor_id"] for data in datas],
            [uuid.UUID(data["job_id"]) for data in datas],
            [datetime.fromisoformat(data["viewed_at"]) for data in datas],
        )
        await consumer.commit()


async def catch_up(database_url: str, job_id: str) -> None:
    """Let the projector work through its backlog (the views of the measures before) before
    timing, or the backlog would be measured: a marker view on every partition, then until all
    are projected."""
    partitions = sorted(await partitions_of(VIEWS_TOPIC))
    markers = [f"marker-{uuid.uuid4().hex}" for _ in partitions]
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap(), acks="all")
    await producer.start()
    try:
        for partition, marker in zip(partitions, markers, strict=True):
            event = new_event(
                JobViewed(visitor_id=marker, job_id=job_id, viewed_at=datetime.now(UTC)),
                producer="bench",
            )
            await producer.send_and_wait(
                VIEWS_TOPIC, event.to_bytes(), key=marker.encode(), partition=partition
            )
    finally:
        await producer.stop()
    connection = await asyncpg.connect(database_url)
    try:
        projected = 0
        while projected < len(markers):
            await asyncio.sleep(0.1)
            projected = await connection.fetchval(
                "SELECT count(DISTINCT visitor_id) FROM recently_viewed WHERE visitor_id = ANY($1)",
                markers,
            )
    finally:
        await connection.close()


if __name__ == "__main__" and sys.argv[1:2] == ["raw-consumer"]:
    asyncio.run(raw_consumer(sys.argv[2], sys.argv[3]))
