"""Events on two topics crossing, through the real services (two replicas each): N jobs are
posted at the same moment as N matching sign-ups, each pair in a category of its own. Every
instant candidate gets exactly one email listing its job; every daily candidate has its job
either in that email or queued for its digest, once."""

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import httpx
import pytest

from tests.faults.harness import JOB_LINK, FaultStack, Outcome, new_tag, post_job, report
from tests.faults.stack import fault_stack

pytestmark = [pytest.mark.integration, pytest.mark.faults]

PAIRS = 120
DAILY_EVERY = 4  # one pair in four signs up for a daily digest instead of instant alerts
AT_ONCE = 24  # pairs in flight together
SETTLE_SECONDS = 120


@dataclass(frozen=True)
class Pair:
    email: str
    frequency: str
    candidate_id: str
    job_id: str


@pytest.fixture(scope="module")
async def stack(
    infrastructure: None, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[FaultStack]:
    async with fault_stack(tmp_path_factory.mktemp("crossing-logs"), replicas=2) as running:
        yield running


async def sign_up(
    stack: FaultStack, client: httpx.AsyncClient, email: str, category: str, frequency: str
) -> str:
    response = await client.post(
        f"{stack.url('signup')}/v1/signups",
        json={
            "email": email,
            "first_name": "Crossing",
            "last_name": "Test",
            "interests": [category],
            "alert_frequency": frequency,
            "consent": True,
        },
    )
    response.raise_for_status()
    candidate_id: str = response.json()["candidate_id"]
    return candidate_id


async def post_crossing_pairs(stack: FaultStack, tag: str) -> list[Pair]:
    """Each pair's job posting and sign-up are sent at the same moment."""
    gate = asyncio.Semaphore(AT_ONCE)

    async def pair(number: int, client: httpx.AsyncClient) -> Pair:
        category = f"{tag}-category-{number}"
        email = f"{tag}-{number}@example.org"
        frequency = "daily" if number % DAILY_EVERY == 0 else "instant"
        async with gate:
            job_id, candidate_id = await asyncio.gather(
                post_job(stack, client, category),
                sign_up(stack, client, email, category, frequency),
            )
        return Pair(email, frequency, candidate_id, job_id)

    async with httpx.AsyncClient(timeout=30) as client:
        return list(await asyncio.gather(*(pair(n, client) for n in range(PAIRS))))


def jobs_emailed(stack: FaultStack) -> Counter[tuple[str, str]]:
    """(address, job id) -> how many alert or digest emails listed the job."""
    listed: Counter[tuple[str, str]] = Counter()
    with stack.smtp.handler.lock:
        messages = list(stack.smtp.handler.messages)
    for message in messages:
        if str(message["Subject"]).startswith("Welcome"):
            continue
        body = message.get_body(preferencelist=("plain",))
        assert body is not None
        for job_id in set(JOB_LINK.findall(str(body.get_content()))):
            listed[(str(message["To"]), job_id)] += 1
    return listed


async def queued_for_digest(stack: FaultStack, pairs: list[Pair]) -> set[tuple[str, str]]:
    """(candidate id, job id) of the pairs whose job waits in the candidate's digest queue."""
    connection = await asyncpg.connect(stack.databases["notifications"])
    try:
        rows = await connection.fetch(
            """SELECT candidate_id::text, job_id::text FROM digest_queue
               WHERE candidate_id = ANY($1::uuid[])""",
            [pair.candidate_id for pair in pairs],
        )
    finally:
        await connection.close()
    return {(row["candidate_id"], row["job_id"]) for row in rows}


async def times_reached(stack: FaultStack, pairs: list[Pair]) -> Counter[Pair]:
    """How many ways each pair's job reached its candidate: emails listing it, plus a digest
    queue entry for a daily candidate."""
    emailed = jobs_emailed(stack)
    queued = await queued_for_digest(stack, pairs)
    return Counter(
        {
            pair: emailed[(pair.email, pair.job_id)] + ((pair.candidate_id, pair.job_id) in queued)
            for pair in pairs
        }
    )


async def settle(stack: FaultStack, pairs: list[Pair]) -> Counter[Pair]:
    deadline = time.monotonic() + SETTLE_SECONDS
    reached = await times_reached(stack, pairs)
    while sum(1 for pair in pairs if reached[pair]) < len(pairs) and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        reached = await times_reached(stack, pairs)
    await asyncio.sleep(3)  # a duplicate, if one were coming, has time to arrive
    return await times_reached(stack, pairs)


async def test_jobs_posted_as_matching_candidates_sign_up_reach_each_once(
    stack: FaultStack,
) -> None:
    pairs = await post_crossing_pairs(stack, new_tag())
    posted = time.monotonic()
    reached = await settle(stack, pairs)
    lost = [pair for pair in pairs if reached[pair] == 0]
    duplicated = sum(count - 1 for count in reached.values() if count > 1)
    outcome = report(
        Outcome(
            f"crossing events: {PAIRS} jobs posted as {PAIRS} matching sign-ups, 2 replicas",
            accepted=len(pairs),
            found=len(pairs) - len(lost),
            lost=len(lost),
            duplicated=duplicated,
            recovery_seconds=None,
            catch_up_seconds=time.monotonic() - posted - 3,
        )
    )
    assert outcome.lost == 0, [pair.email for pair in lost]
    assert outcome.duplicated == 0
