"""The compose stack end to end (`make compose-up` first): the cross-service checks of the
native run, against the containers, through the ports they publish. The last test takes the
stack down (`docker compose down -v`) and checks that nothing is left."""

import asyncio
import ipaddress
import os
import subprocess
import uuid

import pytest

from tests.compose.stack import (
    APP_PORTS,
    ComposeStack,
    compose,
    post_job,
    recently_viewed,
    sign_up,
    sign_ups_from_a_client_of_its_own,
    start,
    stop_with_sigterm,
)
from tests.support.infra import eventually

pytestmark = pytest.mark.compose
PROJECT_LABEL = "label=com.docker.compose.project=talent-network"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize("service", APP_PORTS)
async def test_every_service_answers_readyz(compose_stack: ComposeStack, service: str) -> None:
    response = await getattr(compose_stack, service).get("/readyz")
    assert response.status_code == 200, response.text
    assert set(response.json().values()) == {"ok"}


async def test_posted_job_is_viewed_and_shows_in_recently_viewed(
    compose_stack: ComposeStack,
) -> None:
    job_id = await post_job(compose_stack, unique("Charge Nurse"))
    shown = await compose_stack.jobs.get(f"/v1/jobs/{job_id}")
    assert shown.status_code == 200
    visitor = unique("visitor")
    view = {"visitor_id": visitor, "job_id": job_id}
    assert (await compose_stack.jobs.post("/v1/job-views", json=view)).status_code == 202
    assert await eventually(lambda: recently_viewed(compose_stack, visitor), timeout=30)
    assert await recently_viewed(compose_stack, visitor) == [job_id]


async def test_gateway_serves_the_careers_site_and_routes_the_api(
    compose_stack: ComposeStack,
) -> None:
    title = unique("Staff Nurse")
    job_id = await post_job(compose_stack, title)
    home = await compose_stack.gateway.get("/")
    assert home.status_code == 200
    assert home.headers["content-type"].startswith("text/html")
    page = await compose_stack.gateway.get(f"/jobs/{job_id}")
    assert page.status_code == 200
    assert f'<h1 id="job-title">{title}</h1>' in page.text
    routed = await compose_stack.gateway.get(f"/v1/jobs/{job_id}")
    assert routed.status_code == 200
    assert routed.json()["job_id"] == job_id


async def test_sign_up_welcome_email_reaches_the_mail_sink(compose_stack: ComposeStack) -> None:
    email = f"{unique('candidate')}@example.org"
    await sign_up(compose_stack, email)
    [welcome] = await compose_stack.wait_for_messages(email, 1)
    assert "Welcome" in welcome["Subject"]


async def test_notifications_stopped_with_sigterm_and_restarted_sends_every_welcome_once(
    compose_stack: ComposeStack,
) -> None:
    before = [f"{unique('before-stop')}@example.org" for _ in range(3)]
    during = [f"{unique('while-down')}@example.org" for _ in range(3)]
    for email in before:
        await sign_up(compose_stack, email)
    await asyncio.to_thread(stop_with_sigterm, "notifications")
    for email in during:
        await sign_up(compose_stack, email)
    await asyncio.to_thread(start, "notifications")
    for email in before + during:
        await compose_stack.wait_for_messages(email, 1)
    await asyncio.sleep(2)  # time for a second email, if one were coming
    for email in before + during:
        assert len(await compose_stack.messages_to(email)) == 1, email


async def test_jobs_stopped_with_sigterm_and_restarted_loses_no_accepted_view(
    compose_stack: ComposeStack,
) -> None:
    job_id = await post_job(compose_stack, unique("Night Nurse"))
    visitors = [unique("visitor") for _ in range(20)]
    for visitor in visitors:
        view = {"visitor_id": visitor, "job_id": job_id}
        assert (await compose_stack.jobs.post("/v1/job-views", json=view)).status_code == 202
    await asyncio.to_thread(stop_with_sigterm, "jobs")
    await asyncio.to_thread(start, "jobs")

    async def all_projected() -> bool:
        return all([await recently_viewed(compose_stack, v) == [job_id] for v in visitors])

    assert await eventually(all_projected, timeout=60, interval=0.5)


def docker_ids(*args: str) -> list[str]:
    listed = subprocess.run(["docker", *args], capture_output=True, text=True, check=True)
    return listed.stdout.split()


# Last in this file, so last to run: it takes the stack down.
def test_two_clients_through_the_gateway_have_their_own_sign_up_limits() -> None:
    """The signup service trusts the gateway's X-Forwarded-For (TRUSTED_PROXIES), so each
    visitor has the per-address limit (20 a minute) to itself, not one limit for all."""
    # Addresses of the stack's subnet far above those the services get.
    subnet = ipaddress.ip_network(os.environ.get("COMPOSE_SUBNET", "172.30.89.0/24"))
    first = sign_ups_from_a_client_of_its_own(str(subnet[201]), limit=45)
    second = sign_ups_from_a_client_of_its_own(str(subnet[202]), limit=1)
    assert first[-1] == 429  # the first client reached its limit (within two windows)
    assert set(first[:-1]) == {201}
    assert second == [201]  # the second still has its own


def test_down_with_volumes_leaves_no_container_volume_or_network() -> None:
    compose("down", "--volumes", "--remove-orphans")
    assert compose("ps", "--all", "--quiet").split() == []
    assert docker_ids("ps", "--all", "--quiet", "--filter", PROJECT_LABEL) == []
    assert docker_ids("volume", "ls", "--quiet", "--filter", PROJECT_LABEL) == []
    assert docker_ids("network", "ls", "--quiet", "--filter", PROJECT_LABEL) == []
