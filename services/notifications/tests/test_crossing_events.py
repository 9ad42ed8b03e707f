"""Events on the two topics cross (real PostgreSQL): a candidate event and a matching job event are
applied in two consumer transactions open at the same time, in both orders. Whatever the
interleaving, exactly one email lists the job, and nothing reaches a candidate who left."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from devsupport.databases import migrated_pool
from services.notifications.tests.events import erased, job_event, signed_up
from talent_notifications import service
from talent_notifications.emails import Emails
from talent_notifications.settings import NotificationsSettings
from talent_shared.db import (
    Connection,
    Pool,
)
from talent_shared.events import (
    CandidatePreferencesChanged,
    CandidateUnsubscribed,
    Event,
    JobPosted,
    JobUpdated,
    new_event,
)
from tests.support.crossing import Work, cross

pytestmark = pytest.mark.integration

EMAILS = Emails(NotificationsSettings())
CANDIDATES = "candidates"
JOBS = "jobs"
CANDIDATE_FIRST = "candidate event first"
JOB_FIRST = "job event first"


@pytest.fixture(scope="module")
async def pool(infrastructure: None) -> AsyncIterator[Pool]:
    async with migrated_pool("talent_notifications", "crossing", max_size=6) as pool:
        yield pool


# --- events ------------------------------------------------------------------------------------


def preferences_changed(candidate_id: uuid.UUID, category: str) -> Event:
    data = CandidatePreferencesChanged(candidate_id=candidate_id, interests=[category])
    return new_event(data, producer="signup")


def new_category() -> str:
    return f"Category {uuid.uuid4().hex[:8]}"


# --- applying events the way the consumers do ---------------------------------------------------


async def apply(pool: Pool, consumer: str, event: Event) -> None:
    await service.apply_events(
        pool=pool, emails=EMAILS, consumer=consumer, events=[event], max_jobs=10
    )


def applying(consumer: str, event: Event) -> Work:
    async def apply_in(connection: Connection) -> None:
        await service.apply_events_in(
            connection, emails=EMAILS, consumer=consumer, events=[event], max_jobs=10
        )

    return apply_in


async def cross_in_order(pool: Pool, order: str, candidate_event: Event, job_event: Event) -> None:
    candidate, job = applying(CANDIDATES, candidate_event), applying(JOBS, job_event)
    await cross(pool, *((candidate, job) if order == CANDIDATE_FIRST else (job, candidate)))


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
    await service.record_due_digests(
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
    await apply(pool, CANDIDATES, signed_up(candidate_id, "Some other category"))
    changed = preferences_changed(candidate_id, category)
    await cross_in_order(pool, order, changed, job_event(job_id, category, job_kind))
    assert await emails_listing(pool, candidate_id, job_id) == 1


async def test_preferences_arriving_after_a_later_job_still_alert_it(pool: Pool) -> None:
    candidate_id, job_id, category = uuid.uuid4(), uuid.uuid4(), new_category()
    await apply(pool, CANDIDATES, signed_up(candidate_id, "Some other category"))
    changed = preferences_changed(candidate_id, category)  # made first, consumed last
    await apply(pool, JOBS, job_event(job_id, category))
    await apply(pool, CANDIDATES, changed)
    assert await emails_listing(pool, candidate_id, job_id) == 1


async def test_new_preferences_do_not_alert_jobs_older_than_the_change(pool: Pool) -> None:
    candidate_id, job_id, category = uuid.uuid4(), uuid.uuid4(), new_category()
    await apply(pool, CANDIDATES, signed_up(candidate_id, "Some other category"))
    await apply(pool, JOBS, job_event(job_id, category))
    await asyncio.sleep(0.01)  # the preference change happens after the job was posted
    await apply(pool, CANDIDATES, preferences_changed(candidate_id, category))
    assert await emails_listing(pool, candidate_id, job_id) == 0


@ORDERS
async def test_unsubscribe_crossing_a_matching_job_leaves_no_alert_to_send(
    pool: Pool, order: str
) -> None:
    candidate_id, job_id, category = uuid.uuid4(), uuid.uuid4(), new_category()
    await apply(pool, CANDIDATES, signed_up(candidate_id, category))
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
    await apply(pool, CANDIDATES, signed_up(candidate_id, category))
    await cross_in_order(pool, order, erased(candidate_id), job_event(job_id, category))
    async with pool.acquire() as connection:
        addresses = await connection.fetchval(
            "SELECT count(to_address) FROM deliveries WHERE candidate_id = $1", candidate_id
        )
    assert addresses == 0
    assert await emails_listing(pool, candidate_id, job_id) == 0
