"""The local gateway on port 8080 (Debian's nginx), started by `make up`, stopped by `make down`.

    python -m deploy.gateway.local start|stop|status
    python -m deploy.gateway.local install    nginx, and chromium for tests/browser (apt-get)

Settings come from the environment, like deploy/local/services.sh: GATEWAY_PORT (8080), the
service ports (SIGNUP_HTTP_PORT, JOBS_HTTP_PORT, NOTIFICATIONS_HTTP_PORT, else HTTP_PORT, else the
contract's) and GATEWAY_STATE_DIR (.local) for the rendered config, pid file and logs.
"""

import grp
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from deploy.gateway.routes import REPO_ROOT, SERVICE_PORTS, TEMP_KINDS, WEB_ROOT, server_config

READY_TIMEOUT_SECONDS = 20.0
STOP_TIMEOUT_SECONDS = 10.0


class GatewayError(RuntimeError):
    pass


def ensure_debian_package(command: str, package: str) -> str:
    """The path of ``command``, installing Debian's ``package`` with apt-get when missing."""
    found = shutil.which(command) or shutil.which(command, path="/usr/sbin:/usr/bin")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise GatewayError(f"{command} not found: as root, apt-get install -y {package}")
    print(f"{command} not found: installing Debian's {package} with apt-get...", file=sys.stderr)
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for step in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", package]):
        subprocess.run(step, env=environment, check=True, stdout=subprocess.DEVNULL)
    found = shutil.which(command) or shutil.which(command, path="/usr/sbin:/usr/bin")
    if not found:
        raise GatewayError(f"apt-get installed {package}, but there is no {command} command")
    return found


def service_port(service: str) -> int:
    """The service's own override (JOBS_HTTP_PORT), else HTTP_PORT, else the contract's port."""
    value = os.environ.get(f"{service.upper()}_HTTP_PORT") or os.environ.get("HTTP_PORT")
    return int(value) if value else SERVICE_PORTS[service]


@dataclass(frozen=True)
class Gateway:
    port: int
    state_dir: Path
    service_ports: dict[str, int]

    @classmethod
    def from_environment(cls) -> "Gateway":
        state = Path(os.environ.get("GATEWAY_STATE_DIR", REPO_ROOT / ".local"))
        return cls(
            port=int(os.environ.get("GATEWAY_PORT", "8080")),
            state_dir=state.resolve(),
            service_ports={service: service_port(service) for service in SERVICE_PORTS},
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.state_dir / "gateway" / "nginx.conf"

    @property
    def pid_path(self) -> Path:
        return self.state_dir / "run" / "gateway.pid"

    @property
    def error_log(self) -> Path:
        return self.state_dir / "logs" / "gateway-error.log"

    def render(self) -> Path:
        temp = self.state_dir / "gateway" / "temp"
        for folder in (temp, self.pid_path.parent, self.error_log.parent):
            folder.mkdir(parents=True, exist_ok=True)
        addresses = {service: f"127.0.0.1:{port}" for service, port in self.service_ports.items()}
        server = server_config(listen=str(self.port), web_root=str(WEB_ROOT), addresses=addresses)
        temp_paths = [f"    {kind}_temp_path {temp / kind};" for kind in TEMP_KINDS]
        self.config_path.write_text(
            "\n".join(
                [
                    *_worker_user(),
                    "worker_processes 1;",
                    f"pid {self.pid_path};",
                    f"error_log {self.error_log} warn;",
                    "events { worker_connections 512; }",
                    "http {",
                    "    include /etc/nginx/mime.types;",
                    "    default_type application/octet-stream;",
                    f"    access_log {self.state_dir / 'logs' / 'gateway-access.log'};",
                    "    sendfile on;",
                    *temp_paths,
                    "",
                    server,
                    "}",
                    "",
                ]
            )
        )
        return self.config_path

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_path.read_text().strip())
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        return pid if b"nginx" in command else None

    def start(self) -> None:
        """Start nginx, or reload it with a freshly rendered config when it already runs."""
        nginx = ensure_debian_package("nginx", "nginx")
        config = self.render()
        arguments = [nginx, "-c", str(config), "-e", str(self.error_log)]
        checked = subprocess.run([*arguments, "-t", "-q"], capture_output=True, text=True)
        if checked.returncode != 0:
            raise GatewayError(f"nginx refused {config}:\n{checked.stderr}")
        if self.pid() is not None:
            subprocess.run([*arguments, "-s", "reload"], check=True)
            print(f"gateway: already running, config reloaded ({self.url})")
        else:
            subprocess.run(arguments, check=True)
            print(f"gateway: starting on {self.url} (config {config})")
        self.wait_ready()

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    print(f"gateway: ready, the careers site is {self.url}")
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise GatewayError(f"gateway not answering on {self.url}; see {self.error_log}")

    def stop(self) -> None:
        pid = self.pid()
        if pid is None:
            print("gateway: not running")
            return
        os.kill(pid, signal.SIGQUIT)  # graceful: finish the requests in flight
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        while self.pid() == pid and time.monotonic() < deadline:
            time.sleep(0.1)
        if self.pid() == pid:
            os.kill(pid, signal.SIGKILL)
            self.pid_path.unlink(missing_ok=True)
        print("gateway: stopped")

    def install(self) -> None:
        """The Debian packages of the gateway and of the browser suite (`make test` runs it)."""
        for package in ("nginx", "chromium"):
            ensure_debian_package(package, package)

    def status(self) -> None:
        pid = self.pid()
        state = f"running  pid {pid:<7} {self.url}" if pid else "stopped"
        print(f"{'gateway:':<14} {state}")


def _worker_user() -> list[str]:
    """As root, nginx's workers would run as nobody, who may not reach a checkout under a
    private (0700) directory: they run as the owner of web/ instead. Otherwise nginx keeps the
    caller's user (and warns about a user directive)."""
    if os.geteuid() != 0:
        return []
    owner = WEB_ROOT.stat()
    return [f"user {pwd.getpwuid(owner.st_uid).pw_name} {grp.getgrgid(owner.st_gid).gr_name};"]


def main() -> None:
    actions = {
        "start": Gateway.start,
        "stop": Gateway.stop,
        "status": Gateway.status,
        "install": Gateway.install,
    }
    if len(sys.argv) != 2 or sys.argv[1] not in actions:
        sys.exit(f"usage: {sys.argv[0]} {'|'.join(actions)}")
    try:
        actions[sys.argv[1]](Gateway.from_environment())
    except (GatewayError, subprocess.CalledProcessError) as error:
        sys.exit(f"gateway: ERROR: {error}")


if __name__ == "__main__":
    main()
