"""HTTP_WORKERS=2: a service runs as two uvicorn worker processes sharing its port, each a whole
service, and SIGTERM stops them all cleanly."""

import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import psutil
import pytest

from devsupport.databases import fresh_database
from devsupport.services import ServiceProcess, start_service

pytestmark = pytest.mark.integration

CONNECTIONS = 100  # separate connections, so the kernel hands some to each worker


@pytest.fixture
async def database(infrastructure: None) -> AsyncIterator[str]:
    async with fresh_database("workers") as url:
        yield url


def workers_of(service: ServiceProcess) -> list[psutil.Process]:
    """The worker processes: children of the supervisor that listen on the service's port."""
    return [
        child
        for child in psutil.Process(service.process.pid).children()
        if any(c.laddr.port == service.port for c in child.net_connections(kind="tcp"))
    ]


def workers_that_answered(service: ServiceProcess) -> set[int]:
    """Hold CONNECTIONS connections open, one request each; the pids that accepted them."""
    clients = [httpx.Client(base_url=service.url) for _ in range(CONNECTIONS)]
    try:
        for client in clients:
            assert client.get("/readyz").status_code == 200
        ours = {
            connection.laddr.port
            for connection in psutil.Process().net_connections(kind="tcp")
            if connection.raddr and connection.raddr.port == service.port
        }
        return {
            worker.pid
            for worker in workers_of(service)
            for connection in worker.net_connections(kind="tcp")
            if connection.raddr and connection.raddr.port in ours
        }
    finally:
        for client in clients:
            client.close()


def test_two_workers_both_serve_and_sigterm_stops_them_all(database: str, tmp_path: Path) -> None:
    service = start_service("jobs", database, tmp_path, HTTP_WORKERS="2")
    try:
        service.wait_ready()
        workers = workers_of(service)
        assert len(workers) == 2
        # wait_ready saw one worker ready; the other may still be starting its lifespan (it
        # takes connections only then), as on a loaded machine.
        deadline = time.monotonic() + 30
        answered = workers_that_answered(service)
        while answered != {worker.pid for worker in workers} and time.monotonic() < deadline:
            time.sleep(0.2)
            answered |= workers_that_answered(service)
        assert answered == {worker.pid for worker in workers}

        assert service.terminate(timeout=30) in (0, -signal.SIGTERM)
        _, alive = psutil.wait_procs(workers, timeout=10)
        assert not alive
        lines = service.log_lines()
        # Each worker ran its own lifespan to the end: consumers and producers stopped.
        assert sum("Application shutdown complete" in line for line in lines) == 2
        assert sum("service stopping" in line for line in lines) == 2
    finally:
        service.kill()


def test_killing_a_service_kills_its_workers_too(database: str, tmp_path: Path) -> None:
    """The test harness's SIGKILL: an orphaned worker would go on consuming the topics."""
    service = start_service("jobs", database, tmp_path, HTTP_WORKERS="2")
    service.wait_ready()
    workers = psutil.Process(service.process.pid).children(recursive=True)
    assert workers
    service.kill()
    assert not any(worker.is_running() and worker.status() != "zombie" for worker in workers)
