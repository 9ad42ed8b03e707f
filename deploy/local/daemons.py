"""Background processes that outlive the runner: launched in their own session, found again by
a pid file checked against the process's command line, stopped with TERM then KILL."""

import contextlib
import fcntl
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from deploy.local.config import RunnerError
from devsupport.processes import is_running, kill_tree, stop

STOP_TIMEOUT_SECONDS = 30.0  # of SIGTERM, before SIGKILL
LOCK_TIMEOUT_SECONDS = 300.0


@dataclass(frozen=True)
class Daemon:
    name: str
    pid_file: Path
    marker: str  # text of its command line: a pid file may name a pid reused since
    output: Path  # where its stdout and stderr go

    def process(self) -> psutil.Process | None:
        """The running process of the pid file, if it is this daemon."""
        try:
            process = psutil.Process(int(self.pid_file.read_text().split()[0]))
            command = " ".join(process.cmdline())
        except (OSError, ValueError, IndexError, psutil.Error):
            return None
        return process if is_running(process) and self.marker in command else None

    def launch(
        self, command: list[str], environment: dict[str, str] | None = None
    ) -> psutil.Process:
        """Start ``command`` detached: its own session (the caller's Ctrl-C or the end of its
        process group does not take it down), no stdin, output appended to ``output``. Wait
        on the process returned, not on :meth:`process`: right after the exec, the new
        program's command line reads empty for a moment."""
        self.output.parent.mkdir(parents=True, exist_ok=True)
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        with self.output.open("ab") as output:
            child = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=environment,
                start_new_session=True,
            )
        self.pid_file.write_text(f"{child.pid}\n")
        return psutil.Process(child.pid)

    def stop(self) -> str:
        """TERM, then KILL past the bound; what happened, for the caller to say."""
        process = self.process()
        self.pid_file.unlink(missing_ok=True)
        if process is None:
            return "not running"
        if stop(process, timeout=STOP_TIMEOUT_SECONDS):
            return f"stopped (pid {process.pid})"
        return f"killed (pid {process.pid}): it ignored SIGTERM for {STOP_TIMEOUT_SECONDS:.0f} s"

    def kill(self) -> str:
        process = self.process()
        self.pid_file.unlink(missing_ok=True)
        if process is None:
            return "not running"
        kill_tree(process)
        return f"killed (SIGKILL, pid {process.pid})"


def answers_ok(url: str) -> bool:
    """Whether ``url`` answers 200 (a readiness or health probe)."""
    try:
        return httpx.get(url, timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


def log_tail(path: Path, lines: int = 40) -> str:
    """The last lines of a log, framed, to explain a failure ("" when there is none)."""
    try:
        text = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return ""
    if not text:
        return ""
    return "\n".join([f"----- last lines of {path} -----", *text, "-----"])


def wait_until(
    ready: Callable[[], bool],
    *,
    what: str,
    timeout: float,
    process: psutil.Process | None,
    logs: list[Path],
) -> float:
    """Poll ``ready`` until it holds (seconds it took); fail, with the logs' last lines, when
    ``process`` (if given) ends or ``timeout`` passes."""
    started = time.monotonic()
    while not ready():
        if process is not None and not is_running(process):
            raise RunnerError(f"{what} exited during start\n{_tails(logs)}")
        if time.monotonic() - started > timeout:
            raise RunnerError(f"{what} not ready after {timeout:.0f} s\n{_tails(logs)}")
        time.sleep(0.25)
    return time.monotonic() - started


def _tails(logs: list[Path]) -> str:
    return "\n".join(tail for tail in map(log_tail, logs) if tail)


@contextlib.contextmanager
def exclusive(lock_file: Path) -> Iterator[None]:
    """One start, stop or kill at a time: parallel test workers may all start the infrastructure."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("w") as lock:
        deadline = time.monotonic() + LOCK_TIMEOUT_SECONDS
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise RunnerError(
                        f"another runner has held {lock_file} for 5 minutes"
                    ) from None
                time.sleep(0.2)
        yield
