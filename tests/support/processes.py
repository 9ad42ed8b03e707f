"""Run a service as its own OS process, the way `make up` and the containers do."""

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from tests.support.infra import REPO_ROOT

EPHEMERAL_PORTS = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST_TEST_PORT = 20_000
# Ports already handed out by this process: a port is free until its owner binds it, seconds later.
_handed_out: set[int] = set()


def free_port() -> int:
    """A port nothing listens on, chosen below the kernel's ephemeral range: a port from that
    range can be taken by any outgoing connection on the machine between this check and the
    service's bind, seconds later (seen in CI as "address already in use")."""
    first_ephemeral = int(EPHEMERAL_PORTS.read_text().split()[0]) if EPHEMERAL_PORTS.exists() else 0
    for _ in range(200 if first_ephemeral > LOWEST_TEST_PORT else 0):
        port = random.randrange(LOWEST_TEST_PORT, first_ephemeral)
        if port not in _handed_out and _bindable(port):
            _handed_out.add(port)
            return port
    with socket.socket() as probe:  # no room below the range: let the kernel choose
        probe.bind(("127.0.0.1", 0))
        chosen: int = probe.getsockname()[1]
        return chosen


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@dataclass
class ServiceProcess:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_lines(self) -> list[str]:
        return self.log_path.read_text(errors="replace").splitlines()

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited:\n" + "\n".join(self.log_lines()[-20:]))
            try:
                if httpx.get(f"{self.url}/readyz", timeout=3).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise AssertionError(f"{self.name} not ready:\n" + "\n".join(self.log_lines()[-20:]))

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM, as an orchestrator sends it; returns the exit code."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL the service and its worker processes (HTTP_WORKERS): the supervisor's death
        does not end them, and an orphaned worker went on consuming the broker's topics."""
        try:
            workers = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            workers = []
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        for worker in workers:
            with contextlib.suppress(psutil.NoSuchProcess):
                worker.kill()
        psutil.wait_procs(workers, timeout=10)


def start_service(
    name: str, database_url: str, tmp_path: Path, *, label: str | None = None, **env: str
) -> ServiceProcess:
    """Start ``python -m talent_<name> serve``; ``env`` overrides any setting (HTTP_PORT too).
    The log goes to ``<label or name>.log`` in ``tmp_path``, appended across restarts."""
    port = int(env.pop("HTTP_PORT", 0)) or free_port()
    log_path = tmp_path / f"{label or name}.log"
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "HTTP_PORT": str(port),
        "HTTP_HOST": "127.0.0.1",
        "KAFKA_CONSUMER_GROUP_PREFIX": f"test-{uuid.uuid4().hex[:8]}.",
        "GRACEFUL_TIMEOUT_SECONDS": "5",
        "PYTHONUNBUFFERED": "1",
        # Tests sign up far faster than a person: the rate limits' own tests set them.
        "SIGNUP_RATE_PER_IP": "1000000/second",
        "SIGNUP_RATE_PER_EMAIL": "1000000/second",
        # A match is alerted at the next check; coalescing has tests of its own.
        "ALERT_WINDOW_SECONDS": "0",
        "ALERT_CHECK_SECONDS": "0.2",
        **env,
    }
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", f"talent_{name}", "serve"],
            cwd=REPO_ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return ServiceProcess(name=name, port=port, process=process, log_path=log_path)
