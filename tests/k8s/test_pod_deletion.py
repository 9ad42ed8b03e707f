"""A pod of each service deleted in the middle of a burst of job views and sign-ups: every
accepted view projected, every accepted sign-up welcomed exactly once. The traffic retries a
failed request, as a front end does; the retries are counted and shown."""

import asyncio
import time

import pytest

from deploy.cluster.workload import NAMESPACE
from tests.k8s.cluster import (
    SERVICES,
    Cluster,
    kubectl,
    pods,
    report,
    settle,
    steady_load,
    unique,
)

pytestmark = pytest.mark.k8s


@pytest.mark.timeout(900)
async def test_pod_of_each_service_deleted_mid_burst_loses_nothing(cluster: Cluster) -> None:
    job_id = await cluster.post_job(unique("Burst Nurse"))
    stop = asyncio.Event()
    started = time.monotonic()
    load = asyncio.create_task(
        steady_load(cluster, job_id, stop, views_per_second=10, signups_per_second=3, retries=5)
    )
    await asyncio.sleep(5)
    deleted = []
    for service in SERVICES:
        [victim, *_] = [p for p in pods(service) if p["status"]["phase"] == "Running"]
        name = victim["metadata"]["name"]
        # Not waiting: the pod terminates (SIGTERM after its preStop pause) under the burst.
        kubectl("-n", NAMESPACE, "delete", "pod", name, "--wait=false")
        deleted.append(name)
        await asyncio.sleep(2)
    await asyncio.sleep(20)
    stop.set()
    traffic = await load
    seconds = time.monotonic() - started
    outcome = await settle(cluster, traffic)
    report(
        f"one pod of each service deleted mid-burst: {', '.join(deleted)}",
        traffic,
        outcome,
        seconds,
    )
    assert traffic.views
    assert traffic.signups
    assert traffic.failures == []
    assert outcome.lost_views == []
    assert outcome.duplicated_views == []
    assert outcome.lost_signups == []
    assert outcome.duplicated_signups == []
