"""Coalesced instant alerts on the real database: matches wait for their candidate's window, go
out together at most ten an email, and at most ALERT_DAILY_CAP emails a day."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from devsupport.databases import migrated_pool
from services.notifications.tests.applying import batch_in
from services.notifications.tests.events import job_event, signed_up
from talent_notifications.alerts import record_due_alerts
from talent_notifications.candidates import apply_candidate_events
from talent_notifications.emails import Emails
from talent_notifications.handlers import JOBS
from talent_notifications.postings import apply_job_events
from talent_notifications.settings import NotificationsSettings
from talent_shared.db import Pool
from talent_shared.envelope import Event, new_event
from talent_shared.events import CandidateUnsubscribed, JobClosed

pytestmark = pytest.mark.integration

WINDOW = 300.0
SETTINGS = NotificationsSettings(alert_window_seconds=WINDOW, alert_daily_cap=3)
EMAILS = Emails(SETTINGS)


@pytest.fixture(scope="module")
async def pool(infrastructure: None) -> AsyncIterator[Pool]:
    async with migrated_pool("talent_notifications", "alerts", max_size=4) as pool:
        yield pool


async def instant_subscriber(pool: Pool) -> tuple[uuid.UUID, str]:
    candidate_id, category = uuid.uuid4(), f"Category {uuid.uuid4().hex[:8]}"
    await apply_candidate_events(
        pool=pool, batch=batch_in, events=[signed_up(candidate_id, category)]
    )
    return candidate_id, category


async def post_jobs(pool: Pool, category: str, count: int) -> list[uuid.UUID]:
    job_ids = [uuid.uuid4() for _ in range(count)]
    events = [job_event(job_id, category) for job_id in job_ids]
    await apply_job_events(pool=pool, consumer=JOBS, events=events, window_seconds=WINDOW)
    return job_ids


async def close_window(pool: Pool, candidate_id: uuid.UUID) -> None:
    """As if the window's time had passed."""
    await pool.execute(
        "UPDATE alert_windows SET closes_at = clock_timestamp() WHERE candidate_id = $1",
        candidate_id,
    )


async def alerts(pool: Pool, candidate_id: uuid.UUID) -> list[asyncpg.Record]:
    return await pool.fetch(
        """SELECT job_ids, body_text FROM deliveries
           WHERE candidate_id = $1 AND kind = 'job_alert' ORDER BY created_at""",
        candidate_id,
    )


async def window_closes_at(pool: Pool, candidate_id: uuid.UUID) -> datetime | None:
    closes_at: datetime | None = await pool.fetchval(
        "SELECT closes_at FROM alert_windows WHERE candidate_id = $1", candidate_id
    )
    return closes_at


async def send_due(pool: Pool) -> None:
    await record_due_alerts(pool=pool, emails=EMAILS, settings=SETTINGS)


async def test_matches_wait_until_their_window_closes(pool: Pool) -> None:
    candidate_id, category = await instant_subscriber(pool)
    await post_jobs(pool, category, 3)
    await send_due(pool)
    assert await alerts(pool, candidate_id) == []
    assert await window_closes_at(pool, candidate_id) is not None


async def test_matches_of_one_window_go_in_one_alert(pool: Pool) -> None:
    candidate_id, category = await instant_subscriber(pool)
    job_ids = await post_jobs(pool, category, 3)
    await close_window(pool, candidate_id)
    await send_due(pool)
    [alert] = await alerts(pool, candidate_id)
    assert sorted(alert["job_ids"]) == sorted(job_ids)
    assert await window_closes_at(pool, candidate_id) is None


async def test_past_ten_matches_the_rest_follow_in_the_next_alert(pool: Pool) -> None:
    candidate_id, category = await instant_subscriber(pool)
    job_ids = await post_jobs(pool, category, 25)
    for _ in range(3):
        await close_window(pool, candidate_id)
        await send_due(pool)
    sent = await alerts(pool, candidate_id)
    assert [len(alert["job_ids"]) for alert in sent] == [10, 10, 5]
    assert sorted(job for alert in sent for job in alert["job_ids"]) == sorted(job_ids)
    assert "15 more matching jobs will follow" in sent[0]["body_text"]
    assert f"{SETTINGS.public_base_url}/jobs\n" in sent[0]["body_text"]  # the search page
    assert "more matching" not in sent[2]["body_text"]


async def test_past_the_daily_cap_matches_wait_for_the_next_day(pool: Pool) -> None:
    candidate_id, category = await instant_subscriber(pool)
    await post_jobs(pool, category, 45)
    for _ in range(4):
        await close_window(pool, candidate_id)
        await send_due(pool)
    assert len(await alerts(pool, candidate_id)) == 3
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    closes_at = await window_closes_at(pool, candidate_id)
    assert closes_at == datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=UTC)
    # The next day: yesterday's alerts no longer count.
    await pool.execute(
        "UPDATE deliveries SET created_at = created_at - interval '1 day' WHERE candidate_id = $1",
        candidate_id,
    )
    await close_window(pool, candidate_id)
    await send_due(pool)
    assert [len(alert["job_ids"]) for alert in await alerts(pool, candidate_id)][-1] == 10


async def test_a_job_closed_before_the_window_closes_is_not_sent(pool: Pool) -> None:
    candidate_id, category = await instant_subscriber(pool)
    kept, closed = await post_jobs(pool, category, 2)
    closing = new_event(JobClosed(job_id=closed, closed_at=datetime.now(UTC)), producer="jobs")
    await apply_job_events(pool=pool, consumer=JOBS, events=[closing], window_seconds=WINDOW)
    await close_window(pool, candidate_id)
    await send_due(pool)
    assert [alert["job_ids"] for alert in await alerts(pool, candidate_id)] == [[kept]]


async def test_unsubscribing_drops_what_waited(pool: Pool) -> None:
    candidate_id, category = await instant_subscriber(pool)
    await post_jobs(pool, category, 2)
    unsubscribed: Event[Any] = new_event(
        CandidateUnsubscribed(candidate_id=candidate_id, unsubscribed_at=datetime.now(UTC)),
        producer="signup",
    )
    await apply_candidate_events(pool=pool, batch=batch_in, events=[unsubscribed])
    assert await window_closes_at(pool, candidate_id) is None
    await send_due(pool)
    assert await alerts(pool, candidate_id) == []


async def test_a_sign_up_matching_open_jobs_waits_for_its_window_too(pool: Pool) -> None:
    category = f"Category {uuid.uuid4().hex[:8]}"
    job_ids = await post_jobs(pool, category, 2)
    candidate_id = uuid.uuid4()
    await apply_candidate_events(
        pool=pool, batch=batch_in, events=[signed_up(candidate_id, category)]
    )
    assert await alerts(pool, candidate_id) == []
    await close_window(pool, candidate_id)
    await send_due(pool)
    [alert] = await alerts(pool, candidate_id)
    assert sorted(alert["job_ids"]) == sorted(job_ids)


async def test_a_job_title_with_a_line_break_from_an_older_event_still_makes_an_email(
    pool: Pool,
) -> None:
    """Titles are refused with line breaks now; one from before still renders and sends."""
    candidate_id, category = await instant_subscriber(pool)
    job_id = uuid.uuid4()
    event = job_event(job_id, category)
    old_title = event.data.model_copy(update={"title": "RN ICU\nnights\u2028weekends"})
    await apply_job_events(
        pool=pool,
        consumer=JOBS,
        events=[new_event(old_title, producer="jobs")],
        window_seconds=WINDOW,
    )
    await close_window(pool, candidate_id)
    await send_due(pool)
    [delivery] = await pool.fetch(
        "SELECT * FROM deliveries WHERE candidate_id = $1 AND kind = 'job_alert'", candidate_id
    )
    assert delivery["subject"] == "New job for you: RN ICU nights weekends"
    head = EMAILS.message(delivery).data.split(b"\r\n\r\n", 1)[0]
    assert b"Subject: New job for you: RN ICU nights weekends\r\n" in head
