"""The careers site's gateway: Debian's nginx, one origin for the pages and the API routes of
deploy/gateway/routes.py. `make up` starts it on GATEWAY_PORT (8080) in front of the services;
the browser tests start their own (tests/browser/stack.py). The rendered config, the pid file and
the logs go under its state folder (.local for `make up`)."""

import grp
import os
import pwd
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from deploy.gateway.nginx import TEMP_KINDS, server_config
from deploy.gateway.routes import INGEST_RATE, INGEST_RATE_VARIABLE, WEB_ROOT
from deploy.local.apt import ensure_debian_package
from deploy.local.config import RunnerError, host_port, reachable_address, say
from deploy.local.daemons import Daemon, answers_ok, wait_until
from devsupport.processes import stop

READY_TIMEOUT_SECONDS = 20.0
STOP_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Gateway:
    port: int
    state_dir: Path
    service_ports: dict[str, int]
    host: str = "127.0.0.1"  # where it listens; the services listen there too

    @property
    def url(self) -> str:
        return f"http://{host_port(reachable_address(self.host), self.port)}"

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
        services_host = reachable_address(self.host)
        addresses = {
            name: host_port(services_host, port) for name, port in self.service_ports.items()
        }
        listen = host_port(self.host, self.port)
        server = server_config(
            listen=listen,
            web_root=str(WEB_ROOT),
            addresses=addresses,
            access_log=str(self.state_dir / "logs" / "gateway-access.log"),
            ingest_rate=os.environ.get(INGEST_RATE_VARIABLE, INGEST_RATE),
        )
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

    @property
    def daemon(self) -> Daemon:
        """nginx's master process, which writes its own pid file."""
        return Daemon("gateway", self.pid_path, "nginx", self.error_log)

    def start(self) -> None:
        """Start nginx, or reload it with a freshly rendered config when it already runs."""
        nginx = ensure_debian_package("nginx", "nginx")
        config = self.render()
        arguments = [nginx, "-c", str(config), "-e", str(self.error_log)]
        checked = subprocess.run([*arguments, "-t", "-q"], capture_output=True, text=True)
        if checked.returncode != 0:
            raise RunnerError(f"gateway: nginx refused {config}:\n{checked.stderr}")
        if self.daemon.process() is not None:
            self._nginx([*arguments, "-s", "reload"])
            say("gateway", f"already running, config reloaded ({self.url})")
        else:
            self._nginx(arguments)
            say("gateway", f"starting on {self.url} (config {config})")
        self.wait_ready()

    def wait_ready(self) -> None:
        wait_until(
            lambda: answers_ok(f"{self.url}/healthz"),
            what="gateway",
            timeout=READY_TIMEOUT_SECONDS,
            process=None,  # nginx forks its master and returns: the pid file comes later
            logs=[self.error_log],
        )
        say("gateway", f"ready, the careers site is {self.url}")

    def stop(self) -> None:
        process = self.daemon.process()
        if process is None:
            say("gateway", "not running")
            return
        # SIGQUIT: nginx's graceful stop, which finishes the requests in flight.
        stop(process, timeout=STOP_TIMEOUT_SECONDS, signal_number=signal.SIGQUIT)
        self.pid_path.unlink(missing_ok=True)
        say("gateway", "stopped")

    def status(self) -> str:
        process = self.daemon.process()
        state = f"running  pid {process.pid:<7} {self.url}" if process else "stopped"
        return f"{'gateway:':<14} {state}"

    def _nginx(self, arguments: list[str]) -> None:
        # Not captured: the daemon it starts could hold a pipe open.
        if subprocess.run(arguments).returncode != 0:
            raise RunnerError(f"gateway: {' '.join(arguments)} failed (see {self.error_log})")


def install_browser_packages() -> None:
    """nginx, and Chromium for the browser suite (`make test` runs it)."""
    for package in ("nginx", "chromium"):
        ensure_debian_package(package, package)


def _worker_user() -> list[str]:
    """As root, nginx's workers would run as nobody, who may not reach a checkout under a
    private (0700) directory: they run as the owner of web/ instead. Otherwise nginx keeps the
    caller's user (and warns about a user directive)."""
    if os.geteuid() != 0:
        return []
    owner = WEB_ROOT.stat()
    return [f"user {pwd.getpwuid(owner.st_uid).pw_name} {grp.getgrgid(owner.st_gid).gr_name};"]
