"""Each service runs as its own process: probes, docs, metrics, JSON logs, graceful SIGTERM."""

import json
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from devsupport.databases import fresh_database
from devsupport.services import ADMIN_HEADERS, ServiceProcess, start_service

pytestmark = pytest.mark.integration

SERVICES = ("signup", "jobs", "notifications")


@pytest.fixture(scope="module")
async def databases(infrastructure: None) -> AsyncIterator[dict[str, str]]:
    async with (
        fresh_database("signup") as signup,
        fresh_database("jobs") as jobs,
        fresh_database("notifications") as notifications,
    ):
        yield {"signup": signup, "jobs": jobs, "notifications": notifications}


@pytest.fixture(scope="module")
def stack(
    databases: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ServiceProcess]]:
    logs = tmp_path_factory.mktemp("logs")
    # New consumer groups start at the end of the topics (their history can be long on a
    # developer's broker); the first-flow test below waits until the projector is live.
    processes = {
        name: start_service(name, databases[name], logs, KAFKA_AUTO_OFFSET_RESET="latest")
        for name in SERVICES
    }
    try:
        for process in processes.values():
            process.wait_ready()
        yield processes
    finally:
        for process in processes.values():
            process.kill()


@pytest.mark.parametrize("service", SERVICES)
def test_healthz_is_200(stack: dict[str, ServiceProcess], service: str) -> None:
    assert httpx.get(f"{stack[service].url}/healthz").status_code == 200


@pytest.mark.parametrize("service", SERVICES)
def test_readyz_reports_database_and_kafka(stack: dict[str, ServiceProcess], service: str) -> None:
    response = httpx.get(f"{stack[service].url}/readyz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "kafka": "ok"}


@pytest.mark.parametrize("service", SERVICES)
def test_docs_and_openapi_are_served(stack: dict[str, ServiceProcess], service: str) -> None:
    assert httpx.get(f"{stack[service].url}/docs").status_code == 200
    schema = httpx.get(f"{stack[service].url}/openapi.json").json()
    assert "/healthz" in schema["paths"]


@pytest.mark.parametrize("service", SERVICES)
def test_metrics_are_prometheus_text(stack: dict[str, ServiceProcess], service: str) -> None:
    httpx.get(f"{stack[service].url}/healthz")
    response = httpx.get(f"{stack[service].url}/metrics")
    assert response.status_code == 200
    assert "talent_http_requests_total" in response.text


def test_job_view_posted_over_http_shows_up_in_recently_viewed(
    stack: dict[str, ServiceProcess],
) -> None:
    """The first flow through real processes. (How fast is measured by bench/, not here.)"""
    jobs = stack["jobs"].url
    job = httpx.post(
        f"{jobs}/v1/jobs",
        headers=ADMIN_HEADERS,
        json={
            "title": "Sonographer",
            "category": "Allied Health",
            "location": "Cary, NC",
            "description": "Ultrasound imaging.",
        },
    ).json()
    for visitor in (f"warm-up-{n}" for n in range(300)):  # until the projector is live
        httpx.post(f"{jobs}/v1/job-views", json={"visitor_id": visitor, "job_id": job["job_id"]})
        time.sleep(0.1)
        if httpx.get(f"{jobs}/v1/visitors/{visitor}/recently-viewed").json()["items"]:
            break
    accepted = httpx.post(
        f"{jobs}/v1/job-views", json={"visitor_id": "process-visitor", "job_id": job["job_id"]}
    )
    assert accepted.status_code == 202
    deadline = time.monotonic() + 30
    items: list[dict[str, str]] = []
    while time.monotonic() < deadline and not items:
        time.sleep(0.05)
        items = httpx.get(f"{jobs}/v1/visitors/process-visitor/recently-viewed").json()["items"]
    assert [item["job_id"] for item in items] == [job["job_id"]]


@pytest.mark.parametrize("service", SERVICES)
def test_every_log_line_is_json_with_the_service_name(
    stack: dict[str, ServiceProcess], service: str
) -> None:
    lines = [json.loads(line) for line in stack[service].log_lines() if line.strip()]
    assert lines
    assert {line["service"] for line in lines} == {service}


def test_sigterm_stops_a_service_gracefully(databases: dict[str, str], tmp_path: Path) -> None:
    process = start_service("jobs", databases["jobs"], tmp_path)
    try:
        process.wait_ready()
        # uvicorn re-raises SIGTERM once its graceful shutdown is done, so -15 is a clean exit.
        assert process.terminate(timeout=20) in (0, -signal.SIGTERM)
        lines = process.log_lines()
        assert any("service stopping" in line for line in lines)
        assert any("Application shutdown complete" in line for line in lines)
    finally:
        process.kill()
