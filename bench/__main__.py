"""`make bench` (`python -m bench`): every performance figure of the product beside its baseline,
measured in one run on this machine, printed as one table. Not a test: it asserts nothing.

Each measure is a module with ``async def measure(...) -> list[Row]``; the jobs measures share one
jobs service on a fresh database, whose memory is sampled throughout. Needs the local
infrastructure (`make bench` starts it) and wrk.
"""

import argparse
import asyncio
import os
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import email, freshness, ingest, projector, reads
from bench.common import JobsUnderBench, MemorySampler, Options, jobs_under_bench
from bench.table import Goal, Row, render
from devsupport.infra import require_infrastructure

JobsMeasure = Callable[[JobsUnderBench, Options], Awaitable[list[Row]]]
JOBS_MEASURES: dict[str, JobsMeasure] = {
    "freshness": freshness.measure,
    "ingest": ingest.measure,
    "projector": projector.measure,
    "reads": reads.measure,
}
# Measures with services of their own (not the shared jobs service).
OWN_SERVICES = {"email": email.measure}


def memory_rows(service: str, memory: MemorySampler) -> list[Row]:
    return [
        Row(f"memory, {service}, idle (RSS)", memory.idle_mb, "MB", Goal("at_most", 150)),
        Row(
            f"memory, {service}, largest process under the bench (RSS)",
            memory.peak_mb,
            "MB",
            Goal("at_most", 250),
        ),
    ]


async def run(selected: list[str], options: Options) -> list[Row]:
    require_infrastructure()
    rows: list[Row] = []
    jobs_selected = [name for name in selected if name in JOBS_MEASURES]
    if jobs_selected:
        with tempfile.TemporaryDirectory() as logs:
            async with jobs_under_bench(Path(logs)) as jobs:
                for name in jobs_selected:
                    rows += await JOBS_MEASURES[name](jobs, options)
            rows += memory_rows("jobs", jobs.memory)
    for name in selected:
        if name in OWN_SERVICES:
            rows += await OWN_SERVICES[name](options, memory_rows)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=Options.seconds, help="per wrk run")
    parser.add_argument("--concurrency", type=int, default=Options.concurrency)
    parser.add_argument("--views", type=int, default=Options.views, help="projector events")
    parser.add_argument(
        "--only",
        default=",".join([*JOBS_MEASURES, *OWN_SERVICES]),
        help="comma-separated measures to run",
    )
    arguments = parser.parse_args()
    options = Options(arguments.seconds, arguments.concurrency, arguments.views)
    rows = asyncio.run(run(arguments.only.split(","), options))
    print("\n" + render(rows, os.cpu_count()))


if __name__ == "__main__":
    main()
