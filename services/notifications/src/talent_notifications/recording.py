"""Recording emails as deliveries (the delivery worker sends them): one per reason, whatever is
redelivered, and a job never listed twice for one candidate."""

from abc import abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from uuid import UUID, uuid4

import asyncpg

from talent_notifications import delivery_log, queues
from talent_notifications.emails import Emails, RenderedEmail
from talent_notifications.settings import NotificationsSettings
from talent_shared.background import BackgroundLoop
from talent_shared.db import Connection, Database


@dataclass(frozen=True)
class Recipient:
    candidate_id: UUID
    email: str
    first_name: str

    @classmethod
    def of(cls, row: asyncpg.Record) -> "Recipient":
        return cls(row["candidate_id"], row["email"], row["first_name"])


async def record(
    connection: Connection,
    recipient: Recipient,
    kind: str,
    dedup_key: str,
    content: RenderedEmail,
    job_ids: Sequence[UUID] = (),
    *,
    delivery_id: UUID | None = None,
) -> bool:
    """Record one email; ``False`` when one with this dedup key exists already."""
    return await delivery_log.insert_delivery(
        connection,
        delivery_log.NewDelivery(
            delivery_id=delivery_id or uuid4(),
            dedup_key=dedup_key,
            candidate_id=recipient.candidate_id,
            kind=kind,
            to_address=recipient.email,
            content=content,
            job_ids=list(job_ids),
        ),
    )


async def record_job_email(
    connection: Connection,
    emails: Emails,
    recipient: Recipient,
    jobs: Sequence[asyncpg.Record],
    *,
    dedup_key: str,
    digest_period: str | None = None,
) -> bool:
    """Record an alert (or digest) of the jobs never sent to the recipient; ``False`` when there
    is nothing new to send or this email exists already."""
    delivery_id = uuid4()
    claimed = await queues.claim_jobs(
        connection, recipient.candidate_id, [job["job_id"] for job in jobs], delivery_id
    )
    if not claimed:
        return False
    fresh = [job for job in jobs if job["job_id"] in claimed]
    content = emails.job_list(
        candidate_id=recipient.candidate_id,
        first_name=recipient.first_name,
        jobs=fresh,
        digest_period=digest_period,
    )
    kind = "digest" if digest_period else "job_alert"
    recorded = await record(
        connection, recipient, kind, dedup_key, content, claimed, delivery_id=delivery_id
    )
    if not recorded:
        await connection.execute("DELETE FROM alerted_jobs WHERE delivery_id = $1", delivery_id)
    return recorded


class EmailScheduler(BackgroundLoop):
    """Records the emails that fall due with time, ``every`` so many seconds, and calls
    ``on_recorded`` (the delivery worker's wake) when it recorded any. Safe with several
    replicas: each email's dedup key says which run it belongs to."""

    def __init__(
        self,
        database: Database,
        emails: Emails,
        settings: NotificationsSettings,
        *,
        every: float,
        on_recorded: Callable[[], None],
    ) -> None:
        super().__init__(type(self).__name__, self.run_once, interval_seconds=every)
        self._database = database
        self._emails = emails
        self._settings = settings
        self._on_recorded = on_recorded

    @abstractmethod
    async def run_once(self) -> bool:
        """Record what is due; ``True`` to run again at once."""
