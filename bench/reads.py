"""GET /v1/visitors/{id}/recently-viewed at a constant rate (vegeta: open loop, so a slow response
does not slow the arrivals the way wrk's closed loop would), for visitors with a full list."""

import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from bench.common import JobsUnderBench, Options, _post_jobs
from bench.pauses import PauseProbe
from bench.projector import catch_up
from bench.table import Goal, Row
from devsupport.infra import REPO_ROOT

RATE = 1000
LIST_LENGTH = 50
VISITORS = 200
VEGETA = REPO_ROOT / ".local" / "tools" / "bin" / "vegeta"


async def measure(jobs: JobsUnderBench, options: Options) -> list[Row]:
    await catch_up(jobs.database_url, jobs.job_ids[0])  # no backlog projected meanwhile
    visitors = await visitors_with_full_lists(jobs)
    targets = "".join(
        f"GET {jobs.url}/v1/visitors/{visitor}/recently-viewed?limit={LIST_LENGTH}\n"
        for visitor in visitors
    )
    await asyncio.to_thread(attack, targets, RATE, 2)  # warm-up
    async with PauseProbe() as pauses:
        report = await asyncio.to_thread(attack, targets, RATE, options.seconds)
    latencies = report["latencies"]
    return [
        Row(
            f"GET recently-viewed, p99 at a constant {RATE:,} rps "
            f"(vegeta, {options.seconds} s, {LIST_LENGTH} jobs per list)",
            latencies["99th"] / 1e6,
            "ms",
            Goal("at_most", 5),
            detail=f"p50 {latencies['50th'] / 1e6:.1f} ms, achieved {report['throughput']:,.0f} "
            f"rps, success {report['success']:.0%}; {pauses.summary()}",
        )
    ]


async def visitors_with_full_lists(jobs: JobsUnderBench) -> list[str]:
    """Visitors who viewed ``LIST_LENGTH`` open jobs, stored straight into the projection."""
    job_ids = jobs.job_ids + await _post_jobs(jobs.url, LIST_LENGTH - len(jobs.job_ids))
    visitors = [f"reader-{uuid.uuid4().hex[:8]}-{n}" for n in range(VISITORS)]
    base = datetime.now(UTC)
    rows = [
        (visitor, uuid.UUID(job_id), base - timedelta(seconds=j))
        for visitor in visitors
        for j, job_id in enumerate(job_ids[:LIST_LENGTH])
    ]
    connection = await asyncpg.connect(jobs.database_url)
    try:
        await connection.copy_records_to_table("recently_viewed", records=rows)
        # The measures before upserted hundreds of thousands of views within seconds, and this
        # load adds more: vacuumed and analysed now, autovacuum does not start mid-measure.
        await connection.execute("VACUUM ANALYZE recently_viewed")
    finally:
        await connection.close()
    return visitors


def attack(targets: str, rate: int, seconds: int) -> dict[str, Any]:
    """vegeta's JSON report of ``seconds`` at ``rate`` requests/s over ``targets``."""
    if not VEGETA.exists() and shutil.which("vegeta") is None:
        sys.exit("bench: needs vegeta (`python -m deploy.local tools` puts it in .local/tools/bin)")
    vegeta = str(VEGETA) if VEGETA.exists() else "vegeta"
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as file:
        file.write(targets)
        file.flush()
        results = subprocess.run(
            [vegeta, "attack", f"-rate={rate}", f"-duration={seconds}s", f"-targets={file.name}"],
            check=True,
            capture_output=True,
        ).stdout
    report = subprocess.run(
        [vegeta, "report", "-type=json"], input=results, check=True, capture_output=True
    ).stdout
    parsed: dict[str, Any] = json.loads(report)
    return parsed
