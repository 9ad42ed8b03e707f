"""GET /v1/visitors/{id}/recently-viewed through the gateway at a constant rate (vegeta: open
loop, so a slow response does not slow the arrivals the way wrk's closed loop would), for
visitors with a full list of 50: the reference data set's, or on empty databases visitors whose
lists are stored straight into the projection."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from bench.common import Options, vegeta
from bench.pauses import PauseProbe
from bench.stack import Stack
from bench.table import Goal, Row

RATE = 1000
LIST_LENGTH = 50
VISITORS = 200


async def measure(stack: Stack, options: Options) -> list[Row]:
    visitors = await visitors_with_full_lists(stack)
    targets = "".join(
        f"GET {stack.url}/v1/visitors/{visitor}/recently-viewed?limit={LIST_LENGTH}\n"
        for visitor in visitors
    )
    await asyncio.to_thread(vegeta, targets, RATE, 2)  # warm-up
    async with PauseProbe() as pauses:
        report = await asyncio.to_thread(vegeta, targets, RATE, options.seconds)
    latencies = report["latencies"]
    return [
        Row("reads", f"GET recently-viewed, p99 at a constant {RATE:,} rps (vegeta, "
            f"{options.seconds} s, {LIST_LENGTH} jobs per list)", latencies["99th"] / 1e6, "ms",
            Goal("at_most", 5),
            detail=f"p50 {latencies['50th'] / 1e6:.1f} ms, achieved {report['throughput']:,.0f} "
            f"rps, success {report['success']:.0%}; {pauses.summary()}"),
    ]  # fmt: skip


async def visitors_with_full_lists(stack: Stack) -> list[str]:
    jobs = await asyncpg.connect(stack.databases.jobs)
    try:
        if stack.seeded:
            rows = await jobs.fetch(
                """SELECT visitor_id FROM recently_viewed GROUP BY visitor_id
                   HAVING count(*) >= $1 ORDER BY visitor_id LIMIT $2""",
                LIST_LENGTH, VISITORS,
            )  # fmt: skip
            return [row["visitor_id"] for row in rows]
        return await _stored_lists(jobs, await stack.open_job_ids(LIST_LENGTH))
    finally:
        await jobs.close()


async def _stored_lists(jobs: asyncpg.Connection, job_ids: list[str]) -> list[str]:
    visitors = [f"reader-{uuid.uuid4().hex[:8]}-{n}" for n in range(VISITORS)]
    base = datetime.now(UTC)
    rows = [
        (visitor, uuid.UUID(job_id), base - timedelta(seconds=j))
        for visitor in visitors
        for j, job_id in enumerate(job_ids)
    ]
    await jobs.copy_records_to_table("recently_viewed", records=rows)
    # The measures before upserted many views within seconds: vacuumed and analysed now,
    # autovacuum does not start mid-measure.
    await jobs.execute("VACUUM ANALYZE recently_viewed")
    return visitors
