"""Applying events the way the notifications consumers do, for the tests on the real database:
alert windows of 0 seconds, recorded as soon as they are due."""

from collections.abc import Sequence
from typing import Any

from talent_notifications.alerts import record_due_alerts
from talent_notifications.candidates import Batch, apply_candidate_events
from talent_notifications.emails import Emails
from talent_notifications.handlers import CANDIDATES, JOBS
from talent_notifications.postings import apply_job_events
from talent_notifications.settings import NotificationsSettings
from talent_shared.db import Connection, Pool
from talent_shared.envelope import Event

SETTINGS = NotificationsSettings(alert_window_seconds=0)
EMAILS = Emails(SETTINGS)


def batch_in(connection: Connection) -> Batch:
    """What the candidates consumer gives its handlers, in ``connection``'s transaction."""
    return Batch(
        connection=connection,
        emails=EMAILS,
        consumer=CANDIDATES,
        max_jobs=SETTINGS.max_jobs_per_email,
        window_seconds=SETTINGS.alert_window_seconds,
    )


async def apply(pool: Pool, consumer: str, events: Sequence[Event[Any]]) -> None:
    """Apply a batch as the ``consumer`` (``candidates`` or ``jobs``) does, then record the
    alerts whose window closed."""
    if consumer == JOBS:
        await apply_job_events(pool=pool, consumer=JOBS, events=events, window_seconds=0)
    else:
        await apply_candidate_events(pool=pool, batch=batch_in, events=events)
    await send_due_alerts(pool)


async def send_due_alerts(pool: Pool) -> None:
    """Record every due alert (windows of 0 s are due at once)."""
    while await record_due_alerts(pool=pool, emails=EMAILS, settings=SETTINGS):
        pass
