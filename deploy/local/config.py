"""Where the local stack listens and keeps its state, from the environment: the ports of the
infrastructure (INFRA_*), the gateway's (GATEWAY_PORT) and the one address everything binds
(BIND_HOST, loopback unless told otherwise). The services' own ports and URLs are not here:
their settings classes own them (deploy/local/services.py asks them)."""

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from devsupport.infra import REPO_ROOT


class RunnerError(RuntimeError):
    """A step of the runner failed; the message says why and what to do."""


def say(component: str, message: str) -> None:
    print(f"{component}: {message}", flush=True)


def port_from_environment(variable: str, default: int) -> int:
    value = os.environ.get(variable) or str(default)
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        raise RunnerError(f"{variable}={value} is not a TCP port (1-65535)")
    return int(value)


def reachable_address(host: str) -> str:
    """The address a client on this machine uses for a server bound to ``host``: a wildcard
    (0.0.0.0, ::) is reached on loopback."""
    address = ipaddress.ip_address(host)
    if address.is_unspecified:
        return "::1" if address.version == 6 else "127.0.0.1"
    return host


def host_port(host: str, port: int) -> str:
    """``host:port``, with an IPv6 address in brackets as URLs, nginx and Kafka want it."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass(frozen=True)
class Config:
    root: Path
    bind_host: str
    kafka_port: int
    kafka_controller_port: int
    postgres_port: int
    smtp_port: int
    gateway_port: int
    start_timeout: float  # seconds until a part must answer

    @classmethod
    def from_environment(cls) -> "Config":
        bind_host = os.environ.get("BIND_HOST") or "127.0.0.1"
        try:
            ipaddress.ip_address(bind_host)
        except ValueError as error:
            raise RunnerError(f"BIND_HOST={bind_host} is not an IP address") from error
        return cls(
            root=REPO_ROOT,
            bind_host=bind_host,
            kafka_port=port_from_environment("INFRA_KAFKA_PORT", 9092),
            kafka_controller_port=port_from_environment("INFRA_KAFKA_CONTROLLER_PORT", 9093),
            postgres_port=port_from_environment("INFRA_POSTGRES_PORT", 5432),
            smtp_port=port_from_environment("INFRA_SMTP_PORT", 1025),
            gateway_port=port_from_environment("GATEWAY_PORT", 8080),
            start_timeout=float(os.environ.get("INFRA_START_TIMEOUT") or 60),
        )

    @property
    def local(self) -> Path:
        """Everything the runner writes (git-ignored), but a root's cluster (postgres.py)."""
        return self.root / ".local"

    @property
    def host(self) -> str:
        """Where clients on this machine reach what the runner started."""
        return reachable_address(self.bind_host)

    @property
    def kafka_bootstrap(self) -> str:
        return host_port(self.host, self.kafka_port)

    @property
    def gateway_url(self) -> str:
        return f"http://{host_port(self.host, self.gateway_port)}"

    def relative(self, path: Path) -> str:
        """``path`` as the messages show it: from the checkout when it is inside."""
        return str(path.relative_to(self.root)) if path.is_relative_to(self.root) else str(path)
