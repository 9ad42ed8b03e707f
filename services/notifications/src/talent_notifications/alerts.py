"""Coalesced instant alerts: an instant subscriber's matches wait (claimed already, so a job is
never alerted twice) until their window closes, then go out together.

The first waiting match opens the window, ``ALERT_WINDOW_SECONDS`` long; when it closes, one
alert lists at most ``MAX_JOBS_PER_EMAIL`` of the waiting jobs, oldest first, and says how many
more follow; those open the next window at once. At most ``ALERT_DAILY_CAP`` alerts a candidate a
day (UTC): past it the window waits for the next day. Windows live in the database, so they
survive restarts and are shared by replicas: each due window is taken by one of them (row lock,
SKIP LOCKED) under its candidate's lock.
"""

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from talent_notifications import locks, queues, repository
from talent_notifications.emails import Emails
from talent_notifications.recording import EmailScheduler, Recipient, record
from talent_notifications.settings import NotificationsSettings
from talent_shared.db import Connection, Pool
from talent_shared.logging import get_logger

log = get_logger(__name__)

WINDOWS_PER_TRANSACTION = 50


async def record_due_alerts(*, pool: Pool, emails: Emails, settings: NotificationsSettings) -> int:
    """Record the alert of every candidate whose window has closed (up to a batch); returns
    how many windows were taken."""
    async with pool.acquire() as connection, connection.transaction():
        due = await queues.due_alert_windows(connection, limit=WINDOWS_PER_TRANSACTION)
        await locks.lock_candidates(connection, due)
        for candidate_id in due:
            await _alert(connection, emails, settings, candidate_id)
    return len(due)


async def _alert(
    connection: Connection, emails: Emails, settings: NotificationsSettings, candidate_id: UUID
) -> None:
    subscriber = await repository.fetch_subscriber(connection, candidate_id)
    if (
        subscriber is None
        or not subscriber["subscribed"]
        or subscriber["alert_frequency"] == "never"
    ):
        await repository.forget_waiting(connection, candidate_id)
        return
    now = datetime.now(UTC)
    if await _capped(connection, settings, candidate_id, now):
        return
    waiting = await queues.waiting_matches(connection, candidate_id)
    if not waiting:
        await queues.close_window_at(connection, candidate_id, None)
        return
    sent, more = waiting[: settings.max_jobs_per_email], len(waiting) - settings.max_jobs_per_email
    delivery_id = uuid4()
    content = emails.job_list(
        candidate_id=candidate_id,
        first_name=subscriber["first_name"],
        jobs=sent,
        more=max(more, 0),
    )
    job_ids = [job["job_id"] for job in sent]
    recipient = Recipient.of(subscriber)
    key = f"alert:{candidate_id}:{delivery_id}"
    await record(connection, recipient, "job_alert", key, content, job_ids, delivery_id=delivery_id)
    await queues.mark_alerted(connection, candidate_id, job_ids, delivery_id)
    next_close = now + timedelta(seconds=settings.alert_window_seconds) if more > 0 else None
    await queues.close_window_at(connection, candidate_id, next_close)


async def _capped(
    connection: Connection, settings: NotificationsSettings, candidate_id: UUID, now: datetime
) -> bool:
    """Whether today's alerts are used up; if so the window waits for tomorrow's first."""
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if await queues.alerts_since(connection, candidate_id, today) < settings.alert_daily_cap:
        return False
    await queues.close_window_at(connection, candidate_id, today + timedelta(days=1))
    return True


class AlertScheduler(EmailScheduler):
    """Records the due alerts every ``ALERT_CHECK_SECONDS`` (at once while windows are due)."""

    async def run_once(self) -> bool:
        taken = await record_due_alerts(
            pool=self._database.pool, emails=self._emails, settings=self._settings
        )
        if taken:
            self._on_recorded()
            log.info("alerts recorded", windows=taken)
        return taken == WINDOWS_PER_TRANSACTION
