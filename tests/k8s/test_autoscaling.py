"""The HorizontalPodAutoscaler of jobs (production's: 3 to 12 replicas at 70 % CPU) adds
replicas under load, reading the resource metrics metrics-server serves."""

import asyncio
import contextlib
import json
import time

import httpx
import pytest

from deploy.cluster.workload import NAMESPACE
from tests.k8s.cluster import Cluster, kubectl, kubectl_json

pytestmark = pytest.mark.k8s
LOAD_LIMIT_SECONDS = 300  # the load stops by itself


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
    stop = asyncio.Event()
    requests = 0

    async def reader() -> None:
        nonlocal requests
        while not stop.is_set():
            with contextlib.suppress(httpx.HTTPError):
                await cluster.site.get("/v1/jobs", params={"limit": 50})
            requests += 1

    readers = [asyncio.create_task(reader()) for _ in range(16)]
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
                f"  {time.monotonic() - started:4.0f} s: {requests} requests, "
                f"utilization {utilization.get('averageUtilization')} %, "
                f"desired {desired}, current {status.get('currentReplicas')}"
            )
            if desired > before:
                break
    finally:
        stop.set()
        await asyncio.gather(*readers)
    print(
        f"jobs autoscaler: {before} -> {desired} replicas after "
        f"{time.monotonic() - started:.0f} s of load, CPU per pod {jobs_cpu_millicores()}"
    )
    assert desired > before
