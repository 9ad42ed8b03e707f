"""The three services as background processes. Their ports and URLs come from their settings
classes, read from this environment as each service will read it: `<SERVICE>_HTTP_PORT`, else
`HTTP_PORT`, else its own port (and so for the database). What no variable sets follows the
runner's infrastructure and gateway (INFRA_*, GATEWAY_PORT, BIND_HOST)."""

import os
import sys
from dataclasses import dataclass
from urllib.parse import urlsplit

import psutil
from pydantic import ValidationError

from deploy.local.config import Config, RunnerError, host_port, reachable_address, say
from deploy.local.daemons import Daemon, answers_ok, wait_until
from talent_jobs.settings import JobsSettings
from talent_notifications.settings import NotificationsSettings
from talent_shared.settings import ServiceSettings
from talent_signup.settings import SignupSettings

SERVICE_SETTINGS: dict[str, type[ServiceSettings]] = {
    "signup": SignupSettings,
    "jobs": JobsSettings,
    "notifications": NotificationsSettings,
}


def with_server(url: str, host: str, port: int) -> str:
    """``url`` with its server moved to ``host:port`` (its user, password and database kept)."""
    parts = urlsplit(url)
    login = parts.netloc.rpartition("@")[0]
    return parts._replace(netloc=f"{login}@{host_port(host, port)}").geturl()


@dataclass(frozen=True)
class Service:
    name: str
    config: Config

    def settings(self) -> ServiceSettings:
        try:
            return SERVICE_SETTINGS[self.name]()
        except ValidationError as error:
            raise RunnerError(f"{self.name}: its settings are invalid:\n{error}") from None

    def environment(self) -> dict[str, str]:
        """The caller's environment, plus what the runner's stack decides for every setting
        the environment leaves unset."""
        settings, config = self.settings(), self.config
        follows = {
            "kafka_bootstrap_servers": config.kafka_bootstrap,
            "smtp_host": config.host,
            "smtp_port": str(config.smtp_port),
            "public_base_url": config.gateway_url,
            "http_host": config.bind_host,
            "database_url": self.database_url,
        }
        unset = {
            setting.upper(): value
            for setting, value in follows.items()
            if setting not in settings.model_fields_set
        }
        return {**os.environ, **unset, "PYTHONUNBUFFERED": "1"}

    @property
    def database_url(self) -> str:
        """Its database: the URL its settings name, on the runner's PostgreSQL unless the
        environment sets the URL itself."""
        settings = self.settings()
        if "database_url" in settings.model_fields_set:
            return settings.database_url
        return with_server(settings.database_url, self.config.host, self.config.postgres_port)

    @property
    def url(self) -> str:
        """Where the service answers: its HTTP_HOST (BIND_HOST unless set) and its port."""
        settings = self.settings()
        bound = settings.http_host if "http_host" in settings.model_fields_set else None
        host = reachable_address(bound or self.config.bind_host)
        return f"http://{host_port(host, settings.http_port)}"

    @property
    def daemon(self) -> Daemon:
        local = self.config.local
        log = local / "logs" / f"{self.name}.log"
        return Daemon(self.name, local / "run" / f"{self.name}.pid", f"talent_{self.name}", log)

    def start(self) -> psutil.Process:
        """The service's process: the one running, or a new one."""
        if (process := self.daemon.process()) is not None:
            say("services", f"{self.name} already running (pid {process.pid})")
            return process
        command = [sys.executable, "-m", f"talent_{self.name}", "serve"]
        process = self.daemon.launch(command, self.environment())
        log = self.config.relative(self.daemon.output)
        say("services", f"{self.name} starting (pid {process.pid}, log {log})")
        return process

    def wait_ready(self, process: psutil.Process, timeout: float) -> None:
        wait_until(
            lambda: answers_ok(f"{self.url}/readyz"),
            what=self.name,
            timeout=timeout,
            process=process,
            logs=[self.daemon.output],
        )

    def stop(self) -> None:
        say("services", f"{self.name} {self.daemon.stop()}")

    def status(self) -> str:
        process = self.daemon.process()
        state = f"running  pid {process.pid:<7} {self.url}" if process else "stopped"
        return f"{self.name + ':':<14} {state}"


def services(config: Config) -> list[Service]:
    return [Service(name, config) for name in SERVICE_SETTINGS]


def start_services(config: Config) -> None:
    timeout = float(os.environ.get("READY_TIMEOUT") or 90)
    started = {service: service.start() for service in services(config)}
    for service, process in started.items():
        service.wait_ready(process, timeout)
    say("services", "all services ready")
    for service in services(config):
        print(f"  {service.name:<14} {service.url}   docs {service.url}/docs", flush=True)


def stop_services(config: Config) -> None:
    for service in services(config):
        service.stop()
