"""The digest scheduler: once per period, a digest for each daily or weekly subscriber with
something new. Safe with several replicas: the period is part of each digest's dedup key."""

from datetime import UTC, datetime

from talent_notifications import locks, queues
from talent_notifications.emails import Emails
from talent_notifications.recording import EmailScheduler, Recipient, record_job_email
from talent_shared.db import Pool
from talent_shared.logging import get_logger

log = get_logger(__name__)


def due_periods(now: datetime, *, send_hour: int) -> dict[str, str]:
    """The periods whose digest is due at ``now`` (UTC): frequency -> period key.

    A daily digest is due from ``send_hour`` each day, a weekly one from ``send_hour`` on Monday
    until the week ends, so a replica that was down at the hour still sends it later.
    """
    due = {}
    if now.hour >= send_hour:
        due["daily"] = f"daily:{now.date().isoformat()}"
    year, week, weekday = now.isocalendar()
    if weekday > 1 or now.hour >= send_hour:
        due["weekly"] = f"weekly:{year}-W{week:02d}"
    return due


class DigestScheduler(EmailScheduler):
    """Records the due digests every ``DIGEST_CHECK_SECONDS``."""

    async def run_once(self, now: datetime | None = None) -> bool:
        moment = now or datetime.now(UTC)
        recorded = 0
        due = due_periods(moment, send_hour=self._settings.digest_send_hour_utc)
        for frequency, period in due.items():
            recorded += await record_due_digests(
                pool=self._database.pool,
                emails=self._emails,
                frequency=frequency,
                period_key=period,
                max_jobs=self._settings.max_jobs_per_email,
            )
        if recorded:
            self._on_recorded()
        return False


async def record_due_digests(
    *, pool: Pool, emails: Emails, frequency: str, period_key: str, max_jobs: int
) -> int:
    """Record this period's digest for every ``frequency`` subscriber with something new.

    One digest per candidate per period (the dedup key holds the period), so two replicas, or
    two runs, never send a second; nothing new, nothing sent. Returns how many were recorded.
    """
    recorded = 0
    async with pool.acquire() as connection:
        candidates = await queues.digest_candidates(connection, frequency, period_key)
    for candidate in candidates:
        recipient = Recipient.of(candidate)
        async with pool.acquire() as connection, connection.transaction():
            # Not beside an unsubscribe or erasure of the candidate.
            await locks.lock_candidates(connection, [recipient.candidate_id])
            jobs = await queues.queued_jobs_matching(
                connection, recipient.candidate_id, limit=max_jobs
            )
            if await record_job_email(
                connection,
                emails,
                recipient,
                jobs,
                dedup_key=f"digest:{recipient.candidate_id}:{period_key}",
                digest_period=frequency,
            ):
                recorded += 1
            await queues.clear_digest_queue(connection, recipient.candidate_id)
    if recorded:
        log.info("digests recorded", frequency=frequency, period=period_key, count=recorded)
    return recorded
