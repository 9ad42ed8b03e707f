"""Events on the two topics cross (real PostgreSQL): a candidate event and a matching job event are
applied in two consumer transactions open at the same time, in both orders: the candidate
consumer's transaction, and the job consumer's first one, which commits the job change (then it
matches the job's subscribers, and the inbox is written). Whatever the interleaving, exactly one
email lists the job, and nothing reaches a candidate who left. And no lock serialises the
consumers: two candidate transactions hold their locks at the same time."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from devsupport.databases import migrated_pool
from services.notifications.tests.applying import EMAILS, apply, batch_in, send_due_alerts
from services.notifications.tests.events import erased, job_event, signed_up
from talent_notifications.candidates import apply_candidate_events_in
from talent_notifications.digests import record_due_digests
from talent_notifications.handlers import CANDIDATES, JOBS
from talent_notifications.postings import apply_job_changes_in, apply_job_events
from talent_shared.db import Connection, Pool
from talent_shared.envelope import Event, new_event
from talent_shared.events import (
    CandidatePreferencesChanged,
    CandidateUnsubscribed,
    JobPosted,
    JobUpdated,
)
from tests.support.crossing import Work, cross

pytestmark = pytest.mark.integration

CANDIDATE_FIRST = "candidate event first"
JOB_FIRST = "job event first"


@pytest.fixture(scope="module")
async def pool(infrastructure: None) -> AsyncIterator[Pool]:
    async with migrated_pool("talent_notifications", "crossing", max_size=6) as pool:
        yield pool


# --- events ------------------------------------------------------------------------------------


def preferences_changed(candidate_id: uuid.UUID, category: str) -> Event[Any]:
    data = CandidatePreferencesChanged(candidate_id=candidate_id, interests=[category])
    return new_event(data, producer="signup")


def new_category() -> str:
    return f"Category {uuid.uuid4().hex[:8]}"


# --- applying events the way the consumers do ---------------------------------------------------


def applying_candidate_event(event: Event[Any]) -> Work:
    async def apply_in(connection: Connection) -> None:
        await apply_candidate_events_in(batch_in(connection), [event])

    return apply_in


def committing_job_change(event: Event[Any]) -> Work:
    """The job consumer's first transaction: the job change, the barrier passed."""

    async def apply_in(connection: Connection) -> None:
        await apply_job_changes_in(connection, [event])

    return apply_in


async def cross_in_order(
    pool: Pool, order: str, candidate_event: Event[Any], job_event: Event[Any]
) -> None:
    candidate, job = applying_candidate_event(candidate_event), committing_job_change(job_event)
    await cross(pool, *((candidate, job) if order == CANDIDATE_FIRST else (job, candidate)))
    # The job consumer goes on as it does: it applies the batch again (its change is there
    # already), matches the job's subscribers and records the batch; then the alerts go.
    await apply_job_events(pool=pool, consumer=JOBS, events=[job_event], window_seconds=0)
    await send_due_alerts(pool)


# --- what the candidate ends up with -------------------------------------------------------------


async def emails_listing(pool: Pool, candidate_id: uuid.UUID, job_id: uuid.UUID) -> int:
    async with pool.acquire() as connection:
        count: int = await connection.fetchval(
            """SELECT count(*) FROM deliveries
               WHERE candidate_id = $1 AND $2 = ANY (job_ids) AND status <> 'failed'""",
            candidate_id,
            job_id,
        )
    return count


async def record_digests(pool: Pool, frequency: str) -> None:
    await record_due_digests(
        pool=pool,
        emails=EMAILS,
        frequency=frequency,
        period_key=f"{frequency}:{uuid.uuid4().hex[:8]}",
        max_jobs=10,
    )


ORDERS = pytest.mark.parametrize("order", [CANDIDATE_FIRST, JOB_FIRST])


@ORDERS
async def test_instant_subscriber_gets_one_email_for_a_job_posted_as_they_sign_up(
    pool: Pool, order: str
) -> None:
    candidate_id, job_id, category = uuid.uuid4(), uuid.uuid4(), new_category()
    candidate_event = signed_up(candidate_id, category)
    await cross_in_order(pool, order, candidate_event, job_event(job_id, category))
    assert await emails_listing(pool, candidate_id, job_id) == 1


@ORDERS
@pytest.mark.parametrize("frequency", ["daily", "weekly"])
async def test_digest_subscriber_gets_one_email_for_a_job_posted_as_they_sign_up(
    pool: Pool, order: str, frequency: str
) -> None:
    candidate_id, job_id, category = uuid.uuid4(), uuid.uuid4(), new_category()
    candidate_event = signed_up(candidate_id, category, frequency)
    await cross_in_order(pool, order, candidate_event, job_event(job_id, category))
    await record_digests(pool, frequency)
    assert await emails_listing(pool, candidate_id, job_id) == 1


@ORDERS
@pytest.mark.parametrize("job_kind", [JobPosted, JobUpdated], ids=["posted", "updated"])
async def test_new_preferences_match_a_job_changed_at_the_same_moment_once(
    pool: Pool, order: str, job_kind: type[JobPosted]
) -> None:
    candidate_id, job_id, category = uuid.uuid4(), uuid.uuid4(), new_category()
    await apply(pool, CANDIDATES, [signed_up(candidate_id, "Some other category")])
    changed = preferences_changed(candidate_id, category)
    await cross_in_order(pool, order, changed, job_event(job_id, category, job_kind))
    assert await emails_listing(pool, candidate_id, job_id) == 1


async def test_preferences_arriving_after_a_later_job_still_alert_it(pool: Pool) -> None:
    candidate_id, job_id, category = uuid.uuid4(), uuid.uuid4(), new_category()
    await apply(pool, CANDIDATES, [signed_up(candidate_id, "Some other category")])
    changed = preferences_changed(candidate_id, category)  # made first, consumed last
    await apply(pool, JOBS, [job_event(job_id, category)])
    await apply(pool, CANDIDATES, [changed])
    assert await emails_listing(pool, candidate_id, job_id) == 1


async def test_new_preferences_do_not_alert_jobs_older_than_the_change(pool: Pool) -> None:
    candidate_id, job_id, category = uuid.uuid4(), uuid.uuid4(), new_category()
    await apply(pool, CANDIDATES, [signed_up(candidate_id, "Some other category")])
    await apply(pool, JOBS, [job_event(job_id, category)])
    await asyncio.sleep(0.01)  # the preference change happens after the job was posted
    await apply(pool, CANDIDATES, [preferences_changed(candidate_id, category)])
    assert await emails_listing(pool, candidate_id, job_id) == 0


@ORDERS
async def test_unsubscribe_crossing_a_matching_job_leaves_no_alert_to_send(
    pool: Pool, order: str
) -> None:
    candidate_id, job_id, category = uuid.uuid4(), uuid.uuid4(), new_category()
    await apply(pool, CANDIDATES, [signed_up(candidate_id, category)])
    unsubscribed = new_event(
        CandidateUnsubscribed(candidate_id=candidate_id, unsubscribed_at=datetime.now(UTC)),
        producer="signup",
    )
    await cross_in_order(pool, order, unsubscribed, job_event(job_id, category))
    assert await emails_listing(pool, candidate_id, job_id) == 0


@ORDERS
async def test_erasure_crossing_a_matching_job_leaves_no_address_behind(
    pool: Pool, order: str
) -> None:
    candidate_id, job_id, category = uuid.uuid4(), uuid.uuid4(), new_category()
    await apply(pool, CANDIDATES, [signed_up(candidate_id, category)])
    await cross_in_order(pool, order, erased(candidate_id), job_event(job_id, category))
    async with pool.acquire() as connection:
        addresses = await connection.fetchval(
            "SELECT count(to_address) FROM deliveries WHERE candidate_id = $1", candidate_id
        )
    assert addresses == 0
    assert await emails_listing(pool, candidate_id, job_id) == 0


async def test_two_candidate_transactions_hold_their_locks_at_the_same_time(pool: Pool) -> None:
    """No lock serialises the candidate consumers (replicas, partitions): while one batch's
    transaction is open, another candidate's batch applies in full, and both hold their locks."""
    first_event, second_event = (
        signed_up(uuid.uuid4(), new_category()),
        signed_up(uuid.uuid4(), new_category()),
    )
    async with (
        pool.acquire() as first,
        pool.acquire() as second,
        pool.acquire() as observer,
        first.transaction(),
    ):
        await apply_candidate_events_in(batch_in(first), [first_event])
        second_transaction = second.transaction()
        await second_transaction.start()
        try:
            await asyncio.wait_for(
                apply_candidate_events_in(batch_in(second), [second_event]), timeout=10
            )
            holders = await observer.fetch(
                """SELECT DISTINCT pid FROM pg_locks
                   WHERE locktype = 'advisory' AND granted AND pid = ANY($1::int[])""",
                [first.get_server_pid(), second.get_server_pid()],
            )
        finally:
            await second_transaction.rollback()
    assert len(holders) == 2
