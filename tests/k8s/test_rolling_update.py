"""A rolling update of jobs and then of signup (a new image tag) under a steady load of job
views and sign-ups through the Ingress: no request fails, nothing accepted is lost or doubled."""

import asyncio
import time

import pytest

from deploy.cluster import images
from deploy.cluster.workload import NAMESPACE
from tests.k8s.cluster import Cluster, kubectl, report, settle, steady_load, unique

pytestmark = pytest.mark.k8s
NEW_TAG = "1.0.1"


def roll_out(service: str) -> float:
    """Point ``service`` at the new tag (the same build, tagged anew) and wait for the
    rollout; the seconds it took."""
    images.tag(
        f"talent-network/{service}:{images.PRODUCTION_TAG}", f"talent-network/{service}:{NEW_TAG}"
    )
    started = time.monotonic()
    image = f"talent-network/{service}:{NEW_TAG}"
    # The service and its migrate init container: one image.
    kubectl(
        "-n",
        NAMESPACE,
        "set",
        "image",
        f"deployment/{service}",
        f"{service}={image}",
        f"migrate={image}",
    )
    kubectl("-n", NAMESPACE, "rollout", "status", f"deployment/{service}", "--timeout=600s")
    return time.monotonic() - started


@pytest.mark.timeout(1200)
async def test_rolling_update_of_jobs_and_signup_fails_no_request_and_loses_nothing(
    cluster: Cluster,
) -> None:
    job_id = await cluster.post_job(unique("Rolling Nurse"))
    stop = asyncio.Event()
    started = time.monotonic()
    load = asyncio.create_task(
        steady_load(cluster, job_id, stop, views_per_second=8, signups_per_second=2)
    )
    await asyncio.sleep(5)
    took = {}
    for service in ("jobs", "signup"):
        took[service] = await asyncio.to_thread(roll_out, service)
    await asyncio.sleep(5)
    stop.set()
    traffic = await load
    seconds = time.monotonic() - started
    outcome = await settle(cluster, traffic)
    report("rolling update of jobs, then signup, to a new image tag", traffic, outcome, seconds)
    print(f"rollout: jobs {took['jobs']:.0f} s, signup {took['signup']:.0f} s")
    for service in ("jobs", "signup"):
        images_now = kubectl(
            "-n",
            NAMESPACE,
            "get",
            "deployment",
            service,
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}",
        )
        assert images_now == f"talent-network/{service}:{NEW_TAG}"
    assert traffic.views
    assert traffic.signups
    assert traffic.failures == []
    assert outcome.lost_views == []
    assert outcome.duplicated_views == []
    assert outcome.lost_signups == []
    assert outcome.duplicated_signups == []
