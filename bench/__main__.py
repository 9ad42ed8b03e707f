"""`make bench` (`python -m bench`): every goal of "Hospital scale", measured on the stack as
`make up` runs it (bench/stack.py), printed as one table. Not a test: it asserts nothing.

Two runs of the same measures, each on new databases: with the reference data set loaded
(`make seed-scale`'s, bench/reference_data.py), then empty. Then 1 against 2 notifications
replicas behind a latency proxy, on the reference data set. Needs the local infrastructure,
wrk, vegeta and toxiproxy (`make bench` starts and installs them).
"""

import argparse
import asyncio
import os
import shutil
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import fanout, feeds, freshness, ingest, projector, reads, replicas, welcome
from bench.common import MemorySampler, Options
from bench.stack import Stack, fresh_databases, post_jobs, seeded_databases, shipped_stack
from bench.table import Goal, Row, render
from deploy.local.config import Config
from deploy.local.native_tests import test_environment
from devsupport.infra import REPO_ROOT, require_infrastructure

Measure = Callable[[Stack, Options], Awaitable[list[Row]]]
# In this order: the measures that leave the notifications service matching come last.
MEASURES: dict[str, Measure] = {
    "welcome": welcome.measure,
    "import": fanout.import_while_signing_up,
    "wide": fanout.wide_match,
    "ingest": ingest.measure,
    "freshness": freshness.measure,
    "reads": reads.measure,
    "projector": projector.measure,
    "sync": feeds.measure,
}
EMPTY_CATALOGUE = 50  # the jobs of the empty databases' run, posted through the API


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f} (1 min), {five:.1f} (5 min)"


def memory_rows(memory: dict[str, MemorySampler]) -> list[Row]:
    return [
        Row(f"memory.{service}", f"memory, {service}: its process's largest RSS",
            sampler.peak_mb, "MB", Goal("at_most", 250), detail=f"{sampler.idle_mb:.0f} MB idle")
        for service, sampler in memory.items()
    ]  # fmt: skip


async def run_phase(selected: list[str], options: Options, *, seeded: bool) -> list[Row]:
    """The measures on a stack of new databases, loaded with the reference data set or not; at
    scale, the replicas measure on the same data afterwards. The logs of the services, the
    gateway and the SMTP server stay in .local/bench/<scale|empty> until the next run."""
    rows: list[Row] = []
    print(f"bench: {'at scale' if seeded else 'on empty databases'}, {load()}", flush=True)
    directory = REPO_ROOT / ".local" / "bench" / ("scale" if seeded else "empty")
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    async with fresh_databases() as databases:
        if seeded:
            seconds = await seeded_databases(databases)
            rows.append(Row("seed", "make seed-scale: the reference data set loaded", seconds, "s"))
        async with shipped_stack(directory, databases, seeded=seeded) as stack:
            if not seeded:
                await post_jobs(stack, EMPTY_CATALOGUE)
            await welcome.warm_up(stack)
            for name in (name for name in MEASURES if name in selected):
                rows += await MEASURES[name](stack, options)
                print(f"bench: {name} measured, {load()}", flush=True)
            rows += memory_rows(stack.memory)
        if seeded and "replicas" in selected:
            rows += await replicas.measure(databases.notifications, directory, options)
    return rows


async def run(selected: list[str], phases: list[str], options: Options) -> str:
    require_infrastructure()
    started = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, {load()}"
    scale = await run_phase(selected, options, seeded=True) if "scale" in phases else []
    empty = await run_phase(selected, options, seeded=False) if "empty" in phases else []
    heading = f"Talent Network benchmark: started {started}; ended {load()}"
    return render(scale, empty, heading)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=Options.seconds, help="per wrk run")
    parser.add_argument("--concurrency", type=int, default=Options.concurrency)
    parser.add_argument("--views", type=int, default=Options.views, help="projector events")
    parser.add_argument("--only", default=",".join([*MEASURES, "replicas"]),
                        help="comma-separated measures to run")  # fmt: skip
    parser.add_argument("--phases", default="scale,empty", help="scale, empty or both")
    arguments = parser.parse_args()
    # The runner's Kafka and PostgreSQL (INFRA_*), unless the environment names others.
    os.environ.update(test_environment(Config.from_environment()))
    options = Options(arguments.seconds, arguments.concurrency, arguments.views)
    table = asyncio.run(run(arguments.only.split(","), arguments.phases.split(","), options))
    print("\n" + table)


if __name__ == "__main__":
    main()
