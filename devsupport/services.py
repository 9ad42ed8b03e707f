"""The services as their own OS processes, the way `make up` and the containers run them."""

import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from devsupport.infra import REPO_ROOT
from devsupport.ports import free_port
from devsupport.processes import kill_tree
from talent_shared.settings import DEVELOPMENT_ADMIN_TOKEN

# The admin endpoints' bearer token of a service in development.
ADMIN_HEADERS = {"Authorization": f"Bearer {DEVELOPMENT_ADMIN_TOKEN}"}


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
        self.process.terminate()
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL the service and its worker processes (HTTP_WORKERS)."""
        if self.process.poll() is None:
            kill_tree(psutil.Process(self.process.pid))
        self.process.wait(timeout=10)


def start_service(
    name: str, database_url: str, tmp_path: Path, *, label: str | None = None, **env: str
) -> ServiceProcess:
    """Start ``python -m talent_<name> serve``; ``env`` overrides any setting (HTTP_PORT too).
    The log goes to ``<label or name>.log`` in ``tmp_path``, appended across restarts."""
    port = int(env.pop("HTTP_PORT", 0)) or free_port()
    log_path = tmp_path / f"{label or name}.log"
    # The caller's own stack may set this service's port and database (JOBS_HTTP_PORT, for
    # `make up`): they would win over HTTP_PORT and DATABASE_URL below.
    own = {f"{name.upper()}_HTTP_PORT", f"{name.upper()}_DATABASE_URL"}
    environment = {
        **{variable: value for variable, value in os.environ.items() if variable not in own},
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
