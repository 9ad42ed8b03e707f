"""The HorizontalPodAutoscaler of jobs (production's: 3 to 12 replicas at 70 % of the CPU
request) adds replicas under load, reading the resource metrics metrics-server serves."""

import asyncio
import json
import time

import httpx
import pytest

from deploy.cluster.workload import NAMESPACE
from tests.k8s.cluster import Cluster, client_address, kubectl, kubectl_json, unique

pytestmark = pytest.mark.k8s
LOAD_LIMIT_SECONDS = 300  # the load stops by itself
BATCH = 500  # job views a batch request carries (the contract's most)


def jobs_cpu_millicores() -> list[int]:
    raw = kubectl("get", "--raw", f"/apis/metrics.k8s.io/v1beta1/namespaces/{NAMESPACE}/pods")
    usage = []
    for pod in json.loads(raw)["items"]:
        if pod["metadata"]["name"].startswith("jobs-"):
            cpu = pod["containers"][0]["usage"]["cpu"]
            usage.append(int(cpu.rstrip("n")) // 1_000_000 if cpu.endswith("n") else 0)
    return usage


@pytest.mark.timeout(600)
async def test_jobs_autoscaler_adds_replicas_under_load(cluster: Cluster) -> None:
    hpa = kubectl_json("-n", NAMESPACE, "get", "hpa", "jobs")
    before = hpa["status"].get("desiredReplicas", hpa["spec"]["minReplicas"])
    print(
        f"jobs autoscaler before the load: {before} replicas, "
        f"CPU per pod (millicores) {jobs_cpu_millicores()}"
    )
    job_id = await cluster.post_job(unique("Scaling Nurse"))
    stop = asyncio.Event()
    answers: dict[int | str, int] = {}

    async def sender(number: int) -> None:
        """Batches of job views (each taken, produced to Kafka and projected by jobs) from
        its own client address, as browsers flushing their views."""
        sent = 0
        while not stop.is_set():
            body = {"events": [{"visitor_id": unique("hpa"), "job_id": job_id}] * BATCH}
            headers = {"X-Forwarded-For": client_address(number * 1000 + sent)}
            try:
                response = await cluster.site.post(
                    "/v1/job-views/batch", json=body, headers=headers
                )
                outcome: int | str = response.status_code
            except httpx.HTTPError as error:
                outcome = type(error).__name__
            answers[outcome] = answers.get(outcome, 0) + 1
            sent += 1

    senders = [asyncio.create_task(sender(number)) for number in range(6)]
    started = time.monotonic()
    desired = before
    try:
        while time.monotonic() - started < LOAD_LIMIT_SECONDS:
            await asyncio.sleep(10)
            status = kubectl_json("-n", NAMESPACE, "get", "hpa", "jobs")["status"]
            desired = status.get("desiredReplicas", before)
            metrics = status.get("currentMetrics") or [{}]
            utilization = metrics[0].get("resource", {}).get("current", {})
            print(
                f"  {time.monotonic() - started:4.0f} s: batches {answers}, "
                f"utilization {utilization.get('averageUtilization')} %, "
                f"desired {desired}, current {status.get('currentReplicas')}"
            )
            if desired > before:
                break
    finally:
        stop.set()
        await asyncio.gather(*senders)
    print(
        f"jobs autoscaler: {before} -> {desired} replicas after "
        f"{time.monotonic() - started:.0f} s of load, CPU per pod {jobs_cpu_millicores()}"
    )
    assert answers.get(202, 0) > 0
    assert desired > before
