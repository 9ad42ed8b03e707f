"""TEST_INFRA=containers: Kafka and PostgreSQL for the test session come from testcontainers.

They run the compose stack's images: an *_IMAGE variable when set, else the names
`make compose-up` chose (.local/docker/compose.env: the official image, or a stand-in where no
registry answers), else docker-compose.yml's defaults. The session's addresses are published
through the environment (KAFKA_BOOTSTRAP_SERVERS, TEST_POSTGRES_URL) before any test is
collected, so settings and helpers read them like the native runner's. The native runner
(TEST_INFRA unset or `native`) stays the default.

The reaper container (ryuk) would need an image pull: it is disabled, and the containers are
removed by this plugin at the end of the session (and labelled, for a CI job that was killed).
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import asyncpg
import pytest

from devsupport.infra import REPO_ROOT
from devsupport.ports import free_port

if TYPE_CHECKING:  # imported when used: the native runner never loads the Docker client
    from testcontainers.core.container import DockerContainer

SESSION_LABEL = {"talent.test-infrastructure": "true"}
POSTGRES_PASSWORD = "talent"
COMPOSE_ENV_FILE = REPO_ROOT / ".local" / "docker" / "compose.env"


def enabled() -> bool:
    mode = os.environ.get("TEST_INFRA", "native")
    if mode not in {"native", "containers"}:
        raise pytest.UsageError(f"TEST_INFRA must be 'native' or 'containers', not {mode!r}")
    return mode == "containers"


def compose_image(variable: str) -> str:
    """The image the compose stack runs for ``variable`` (KAFKA_IMAGE, POSTGRES_IMAGE)."""
    if os.environ.get(variable):
        return os.environ[variable]
    if COMPOSE_ENV_FILE.exists():
        for line in COMPOSE_ENV_FILE.read_text().splitlines():
            name, _, value = line.partition("=")
            if name == variable and value:
                return value
    compose = (REPO_ROOT / "docker-compose.yml").read_text()
    match = re.search(rf"\$\{{{variable}:-([^}}]+)\}}", compose)
    if match is None:
        raise RuntimeError(f"docker-compose.yml has no default for {variable}")
    return match.group(1)


def kafka_container(port: int) -> DockerContainer:
    """A single KRaft node whose client port is the same inside and out, so the address it
    advertises works from the host."""
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy

    environment = {
        "KAFKA_NODE_ID": "1",
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_LISTENERS": f"PLAINTEXT://:{port},CONTROLLER://:9093",
        "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://127.0.0.1:{port}",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
        "KAFKA_NUM_PARTITIONS": "3",
    }
    return (
        DockerContainer(compose_image("KAFKA_IMAGE"))
        .with_envs(**environment)
        .with_bind_ports(port, port)
        .with_kwargs(labels=SESSION_LABEL)
        .waiting_for(LogMessageWaitStrategy("Kafka Server started").with_startup_timeout(120))
    )


def postgres_container(port: int) -> DockerContainer:
    from testcontainers.core.container import DockerContainer

    return (
        DockerContainer(compose_image("POSTGRES_IMAGE"))
        .with_envs(
            POSTGRES_USER="talent", POSTGRES_PASSWORD=POSTGRES_PASSWORD, POSTGRES_DB="talent"
        )
        .with_bind_ports(5432, port)
        .with_kwargs(labels=SESSION_LABEL)
    )


async def wait_for_postgres(url: str, timeout: float = 60.0) -> None:
    """The image's first start runs initdb with a temporary server: wait for the real one."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            connection = await asyncpg.connect(url, timeout=2)
        except (TimeoutError, OSError, asyncpg.PostgresError):
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.5)
        else:
            await connection.close()
            return


@dataclass
class ContainerInfrastructure:
    containers: list[DockerContainer] = field(default_factory=list)

    def start(self) -> None:
        # testcontainers reads this when first imported, which is below.
        os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
        kafka_port, postgres_port = free_port(), free_port()
        for container in (kafka_container(kafka_port), postgres_container(postgres_port)):
            self.containers.append(container)
            container.start()
        postgres_url = f"postgresql://talent:{POSTGRES_PASSWORD}@127.0.0.1:{postgres_port}/postgres"
        asyncio.run(wait_for_postgres(postgres_url))
        os.environ["KAFKA_BOOTSTRAP_SERVERS"] = f"127.0.0.1:{kafka_port}"
        os.environ["TEST_POSTGRES_URL"] = postgres_url

    def stop(self) -> None:
        for container in reversed(self.containers):
            container.stop()
        self.containers.clear()


def pytest_configure(config: pytest.Config) -> None:
    if not enabled():
        return
    infrastructure = ContainerInfrastructure()
    config.add_cleanup(infrastructure.stop)
    infrastructure.start()
