"""How soon a view accepted with 202 shows in the visitor's recently-viewed list, while vegeta
posts 1,000 other views a second through the gateway (a constant rate, open loop): the probe
views go one at a time, each followed by reads of the list until it is first there."""

import asyncio
import base64
import json
import random
import time
import uuid
from typing import Any

import aiohttp

from bench.common import Options, percentile, vegeta
from bench.ingest import VISITORS, visitor_prefix
from bench.pauses import PauseProbe
from bench.stack import Stack
from bench.table import Goal, Row

SAMPLES = 200
LOAD_RATE = 1000  # views a second
LOAD_SECONDS = 20  # long enough for the probe's samples (20 ms to 100 ms each)
TARGETS = 2000


def load_targets(url: str, job_ids: list[str], prefix: str) -> str:
    """vegeta's JSON targets: views by random visitors of random jobs."""
    rng = random.Random("bench freshness")
    lines = []
    for _ in range(TARGETS):
        view = {
            "visitor_id": f"{prefix}{rng.randrange(VISITORS):07d}",
            "job_id": rng.choice(job_ids),
        }
        target = {
            "method": "POST",
            "url": f"{url}/v1/job-views",
            "body": base64.b64encode(json.dumps(view).encode()).decode(),
            "header": {"Content-Type": ["application/json"]},
        }
        lines.append(json.dumps(target))
    return "\n".join(lines) + "\n"


async def measure(stack: Stack, options: Options) -> list[Row]:
    job_ids = await stack.open_job_ids(200)
    targets = load_targets(stack.url, job_ids, visitor_prefix(stack))
    seconds = max(options.seconds, LOAD_SECONDS)
    load = asyncio.create_task(asyncio.to_thread(vegeta, targets, LOAD_RATE, seconds, "json"))
    await asyncio.sleep(1)  # the load runs before the first sample
    async with PauseProbe() as pauses:
        latencies = await view_to_visible(stack, job_ids, until=load)
    report = await load
    return [
        Row("freshness", f"view → visible in recently-viewed, p99 ({len(latencies)} probe views "
            f"while {LOAD_RATE:,} views/s are posted)", percentile(latencies, 99), "ms",
            Goal("at_most", 100),
            detail=f"p50 {percentile(latencies, 50):.1f} ms; load achieved "
            f"{report['throughput']:,.0f} views/s, success {report['success']:.0%}, p99 "
            f"{report['latencies']['99th'] / 1e6:.1f} ms; {pauses.summary()}"),
    ]  # fmt: skip


async def view_to_visible(
    stack: Stack, job_ids: list[str], *, until: "asyncio.Task[dict[str, Any]]"
) -> list[float]:
    """Seconds from each probe view's 202 to its job heading the visitor's list, one probe at
    a time, until SAMPLES are taken or the load ends."""
    latencies: list[float] = []
    rng = random.Random()
    prefix = visitor_prefix(stack) if stack.seeded else f"probe-{uuid.uuid4().hex[:8]}-"
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(stack.url, timeout=timeout, raise_for_status=True) as client:
        while len(latencies) < SAMPLES and not until.done():
            visitor, job_id = f"{prefix}{rng.randrange(VISITORS):07d}", rng.choice(job_ids)
            async with client.post("/v1/job-views", json={"visitor_id": visitor, "job_id": job_id}):
                accepted = time.perf_counter()
            first = None
            while first != job_id:
                path = f"/v1/visitors/{visitor}/recently-viewed?limit=1"
                async with client.get(path) as page:
                    items = (await page.json())["items"]
                first = items[0]["job_id"] if items else None
            latencies.append(time.perf_counter() - accepted)
    return latencies
