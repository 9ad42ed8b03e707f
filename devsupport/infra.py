"""Where the infrastructure of the tests and benchmarks is: the local runner's Kafka and
PostgreSQL (`python -m deploy.local infra start`), or what the environment names (the containers
plugin of the tests sets it once it has started them)."""

import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parents[1]


# Read when used, not at import: the containers plugin sets them once the session has started.
def kafka_bootstrap() -> str:
    return os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")


def postgres_admin_url() -> str:
    return os.environ.get("TEST_POSTGRES_URL", "postgresql://talent:talent@127.0.0.1:5432/postgres")


def database_url(name: str) -> str:
    """The URL of database ``name`` on the server of :func:`postgres_admin_url`."""
    return postgres_admin_url().rsplit("/", 1)[0] + f"/{name}"


def port_answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_infrastructure() -> None:
    """Fail at once, saying what to start, when Kafka or PostgreSQL does not answer."""
    host, port = kafka_bootstrap().split(",")[0].rsplit(":", 1)
    postgres = urlsplit(postgres_admin_url())
    needed = {
        "Kafka": (host, int(port)),
        "PostgreSQL": (postgres.hostname or "127.0.0.1", postgres.port or 5432),
    }
    missing = [name for name, address in needed.items() if not port_answers(*address)]
    if missing:
        raise RuntimeError(
            f"{', '.join(missing)} not reachable: run the tests with `make test` (or the "
            "benchmarks with `make bench`), which starts the local infrastructure first"
        )
