"""Emails people keep, with two notifications replicas as processes: a burst of jobs reaches an
instant subscriber in a few coalesced alerts, across a restart of a replica; and a delivery
worker paused past its lease (SIGSTOP, a frozen VM) sends nothing the other one sent meanwhile."""

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from tests.faults.harness import (
    JOB_LINK,
    FaultStack,
    Outcome,
    new_tag,
    post_job,
    report,
    welcome_counts,
)
from tests.faults.stack import fault_stack
from tests.support.infra import eventually

pytestmark = [pytest.mark.integration, pytest.mark.faults]

WINDOW_SECONDS = 15  # longer than the burst with the restart in it
LEASE_SECONDS = 4
BURST = 20


@pytest.fixture(scope="module")
async def stack(
    infrastructure: None, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[FaultStack]:
    env = {
        "ALERT_WINDOW_SECONDS": str(WINDOW_SECONDS),
        "ALERT_CHECK_SECONDS": "0.5",
        "DELIVERY_LEASE_SECONDS": str(LEASE_SECONDS),
        "SMTP_TIMEOUT_SECONDS": "60",
    }
    logs = tmp_path_factory.mktemp("emails-people-keep-logs")
    async with fault_stack(logs, replicas=2, env=env) as running:
        yield running


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as http:
        yield http


async def sign_up(stack: FaultStack, client: httpx.AsyncClient, email: str, category: str) -> None:
    body = {
        "email": email,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "interests": [category],
        "alert_frequency": "instant",
        "consent": True,
    }
    response = await client.post(f"{stack.url('signup')}/v1/signups", json=body)
    assert response.status_code == 201, response.text


def alerts_naming(stack: FaultStack, email: str) -> list[list[str]]:
    """The job ids each alert to ``email`` names, in the order the alerts arrived."""
    named = []
    for message in stack.smtp.handler.to(email):
        if message["Subject"].startswith("Welcome"):
            continue
        body = message.get_body(preferencelist=("plain",))
        assert body is not None
        named.append(sorted(set(JOB_LINK.findall(str(body.get_content())))))
    return named


async def restart(stack: FaultStack, service: str, index: int) -> None:
    """SIGTERM one replica, as an orchestrator does, and start it again."""
    replica = stack.replicas[service][index]
    assert replica.process is not None
    await asyncio.to_thread(replica.process.terminate)
    stack.start(replica)
    await asyncio.to_thread(replica.process.wait_ready)


async def test_a_burst_of_25_jobs_reaches_an_instant_subscriber_in_at_most_3_alerts(
    stack: FaultStack, client: httpx.AsyncClient
) -> None:
    category = new_tag()
    email = f"{category}@example.org"
    await sign_up(stack, client, email, category)
    assert await stack.smtp.wait_for(email, 1, timeout=30)  # the welcome
    started = time.monotonic()
    first = await asyncio.gather(*(post_job(stack, client, category) for _ in range(12)))
    await restart(stack, "notifications", 0)  # the windows live in the database
    rest = await asyncio.gather(*(post_job(stack, client, category) for _ in range(13)))
    job_ids = sorted([*first, *rest])

    async def all_named() -> bool:
        named = {job for alert in alerts_naming(stack, email) for job in alert}
        return len(named) == len(job_ids)

    await eventually(all_named, timeout=90, interval=0.5)
    await asyncio.sleep(WINDOW_SECONDS + 1)  # a fourth alert, if one were coming, arrives
    alerts = alerts_naming(stack, email)
    named = [job for alert in alerts for job in alert]
    report(
        Outcome(
            "a burst of 25 matching jobs, 2 replicas, one restarted: alerts to one instant "
            f"subscriber ({len(alerts)} emails)",
            accepted=len(job_ids),
            found=len(set(named) & set(job_ids)),
            lost=len(set(job_ids) - set(named)),
            duplicated=len(named) - len(set(named)),
            recovery_seconds=None,
            catch_up_seconds=time.monotonic() - started,
        )
    )
    assert len(alerts) <= 3
    assert sorted(named) == job_ids


async def leases_of(stack: FaultStack) -> dict[int, int]:
    """Pending deliveries leased, by the process id of the worker holding them."""
    connection = await asyncpg.connect(stack.databases["notifications"])
    try:
        rows = await connection.fetch(
            """SELECT split_part(leased_by, ':', 2)::int AS pid, count(*) AS leased
               FROM deliveries
               WHERE status = 'pending' AND next_attempt_at > clock_timestamp()
                 AND leased_by IS NOT NULL
               GROUP BY 1"""
        )
    finally:
        await connection.close()
    return {row["pid"]: row["leased"] for row in rows}


async def test_a_worker_paused_past_its_lease_sends_nothing_taken_over(
    stack: FaultStack, client: httpx.AsyncClient
) -> None:
    smtp = stack.smtp
    smtp.stop()  # the replicas' kept connections die with it
    smtp.hold_greetings()  # new sessions wait: the workers hold their leases meanwhile
    smtp.start()
    tag = new_tag()
    addresses = [f"{tag}-{n}@example.org" for n in range(BURST)]
    await asyncio.gather(*(sign_up(stack, client, email, tag) for email in addresses))
    leased: dict[int, int] = await eventually(lambda: leases_of(stack), timeout=30, interval=0.1)
    assert leased, "no worker leased the welcomes"
    paused = max(leased, key=lambda pid: leased[pid])
    os.kill(paused, signal.SIGSTOP)
    started = time.monotonic()
    try:
        smtp.release_greetings()  # the other replica takes over once the leases end

        async def all_welcomed() -> bool:
            return len(welcome_counts(smtp, addresses)) == BURST

        await eventually(all_welcomed, timeout=90, interval=0.25)
        caught_up = time.monotonic() - started
        await asyncio.sleep(LEASE_SECONDS + 1)  # paused well past its lease
    finally:
        os.kill(paused, signal.SIGCONT)
    await asyncio.sleep(5)  # the resumed worker finds its leases taken and sends nothing
    # Every copy counts: no server died, so a second copy is the resumed worker's send.
    counts = welcome_counts(smtp, addresses, every_copy=True)
    duplicated = sum(count - 1 for count in counts.values())
    report(
        Outcome(
            "2 notifications replicas, the one holding the welcomes' leases paused (SIGSTOP) "
            f"past them ({leased[paused]} of {BURST}): sign-ups, one welcome each",
            accepted=BURST,
            found=len(counts),
            lost=BURST - len(counts),
            duplicated=duplicated,
            recovery_seconds=None,
            catch_up_seconds=caught_up,
        )
    )
    assert (len(counts), duplicated) == (BURST, 0)
