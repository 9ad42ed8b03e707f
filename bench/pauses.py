"""Moments when the machine did not run at all, seen by a probe at real-time priority.

The probe (``python -m bench.pauses``) sleeps 1 ms in a loop under SCHED_FIFO, so on waking it
preempts every ordinary process at once: a wake-up more than 2 ms late means its CPU ran nothing
meanwhile. On our machines (a virtual machine of 2 vCPUs) that is the host pausing the VM, by
10 to 30 ms at a time, in clusters, a few times a minute, invisible to the guest's CPU
accounting (no steal time). A pause delays every request in flight, so the latency measures
report the pauses seen while they ran, to tell a slow service from a paused machine. The probe
costs about 3 % of one core.
"""

import asyncio
import json
import os
import signal
import sys
import time
from dataclasses import dataclass, field

from devsupport.infra import REPO_ROOT

LATE_SECONDS = 0.002
TICK_SECONDS = 0.001


def _probe() -> None:
    """Print (JSON) the lateness of each wake-up later than LATE_SECONDS, in ms, on SIGTERM;
    ``null`` when real-time priority is not allowed (it needs root or CAP_SYS_NICE)."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
    except PermissionError:
        print("null", flush=True)
        return
    stopping = False

    def stop(_signal: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    print("ready", flush=True)
    late: list[float] = []
    parent = os.getppid()
    while not stopping and os.getppid() == parent:  # ends with the bench, even a killed one
        started = time.monotonic()
        time.sleep(TICK_SECONDS)
        lateness = time.monotonic() - started - TICK_SECONDS
        if lateness > LATE_SECONDS:
            late.append(round(lateness * 1000, 1))
    print(json.dumps(late), flush=True)


@dataclass
class PauseProbe:
    """Runs the probe while a measure runs: ``async with PauseProbe() as pauses: ...``, then
    ``pauses.summary()``."""

    late_ms: list[float] | None = None
    _process: asyncio.subprocess.Process | None = field(default=None, repr=False)

    async def __aenter__(self) -> "PauseProbe":
        self._process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.pauses", stdout=asyncio.subprocess.PIPE, cwd=REPO_ROOT
        )
        assert self._process.stdout is not None
        await self._process.stdout.readline()  # "ready", or "null" when not allowed
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._process is not None
        if self._process.returncode is None:
            self._process.send_signal(signal.SIGTERM)
        output, _errors = await self._process.communicate()
        self.late_ms = json.loads(output) if output.strip() else None

    def summary(self) -> str:
        if self.late_ms is None:
            return "machine pauses not measured (the probe needs real-time priority)"
        if not self.late_ms:
            return "no machine pause over 2 ms"
        times = "once" if len(self.late_ms) == 1 else f"{len(self.late_ms)} times"
        return (
            f"machine paused {times} over 2 ms, longest {max(self.late_ms):.0f} ms, "
            f"{sum(self.late_ms):.0f} ms in all"
        )


if __name__ == "__main__":
    _probe()
