"""How soon a view accepted with 202 shows in the visitor's recently-viewed list, while wrk keeps
ingesting views into the same service (the projector then works on full batches, not one view)."""

import asyncio
import time
import uuid

import aiohttp

from bench.common import JobsUnderBench, Options, WrkResult, percentile, run_wrk
from bench.ingest import SINGLE_VIEW_SCRIPT
from bench.pauses import PauseProbe
from bench.projector import catch_up
from bench.table import Goal, Row

SAMPLES = 200
LOAD_CONCURRENCY = 16
# Long enough for the probe to take its samples (about 20 ms to 100 ms each) under load.
LOAD_SECONDS = 20


async def measure(jobs: JobsUnderBench, options: Options) -> list[Row]:
    job_id = jobs.job_ids[0]
    await catch_up(jobs.database_url, job_id)  # the topic's history is not what is measured
    script = SINGLE_VIEW_SCRIPT.replace("JOB", job_id)
    seconds = max(options.seconds, LOAD_SECONDS)
    load = asyncio.create_task(
        asyncio.to_thread(
            run_wrk, jobs.url, script, seconds=seconds, concurrency=LOAD_CONCURRENCY, warmup=0
        )
    )
    await asyncio.sleep(1)  # the load runs before the first sample
    async with PauseProbe() as pauses:
        latencies = await view_to_visible(jobs.url, job_id, SAMPLES, until=load)
    ingested = await load
    return [freshness_row(latencies, ingested, pauses)]


def freshness_row(latencies: list[float], load: WrkResult, pauses: PauseProbe) -> Row:
    return Row(
        f"view → visible in recently-viewed, p99 ({len(latencies)} probe views while wrk "
        f"ingests {load.requests_per_second:,.0f} views/s, concurrency {LOAD_CONCURRENCY})",
        percentile(latencies, 99),
        "ms",
        Goal("at_most", 100),
        detail=f"p50 {percentile(latencies, 50):.1f} ms; load p99 {load.p99_ms:.1f} ms; "
        f"{pauses.summary()}",
    )


async def view_to_visible(
    url: str, job_id: str, samples: int, *, until: "asyncio.Task[WrkResult]"
) -> list[float]:
    """Seconds from each probe view's 202 to the view showing in recently-viewed, one probe
    view at a time, until ``samples`` are taken or the load ends."""
    latencies = []
    # aiohttp: a lighter client than httpx (see bench/email.py), so the polling takes less of
    # the cores the service needs.
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(url, timeout=timeout, raise_for_status=True) as client:
        for n in range(samples):
            if until.done():
                break
            visitor = f"probe-{uuid.uuid4().hex[:8]}-{n}"
            view = {"visitor_id": visitor, "job_id": job_id}
            async with client.post("/v1/job-views", json=view) as response:
                await response.read()
            accepted = time.perf_counter()
            items: list[object] = []
            while not items:
                async with client.get(f"/v1/visitors/{visitor}/recently-viewed") as page:
                    items = (await page.json())["items"]
            latencies.append(time.perf_counter() - accepted)
    return latencies
