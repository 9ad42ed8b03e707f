"""The delivery worker: sends recorded emails over SMTP, apart from the Kafka consumers, so a
slow or absent mail server never stalls consuming.

A due delivery is leased with a token of this worker's before it is sent, so two workers never
send it at once, and one that dies mid-send leaves it due again when the lease ends. Right before
the message goes, the worker confirms its lease (:func:`delivery_log.confirm_lease`): a worker
paused past its lease (a frozen VM) finds the delivery taken over and sends nothing, and a late
mark of a lost lease changes nothing. The same step skips a suppressed address, recording the
delivery ``suppressed``. Transient failures (4xx replies, timeouts, refused connections) are
retried with exponential backoff and jitter up to DELIVERY_MAX_ATTEMPTS; a 5xx reply fails the
delivery at once and suppresses its address.
"""

import asyncio
import os
import random
import socket
from uuid import UUID

import asyncpg
from opentelemetry.trace import SpanKind
from prometheus_client import Counter

from talent_notifications import delivery_log
from talent_notifications.emails import Emails
from talent_notifications.settings import NotificationsSettings
from talent_notifications.smtp import PermanentSendError, SmtpPool, classify
from talent_notifications.suppression import suppress_after_refusal
from talent_shared.background import BackgroundLoop
from talent_shared.db import Database
from talent_shared.logging import get_logger
from talent_shared.tracing import continued_trace, tracer

log = get_logger(__name__)

EMAILS = Counter(
    "talent_emails_total", "Delivery attempts by kind and outcome", ["kind", "outcome"]
)

Lease = tuple[UUID, UUID]  # (delivery id, lease token)


class SentMarks:
    """Marks sent deliveries in the database, one UPDATE at a time for all the sends that ended
    meanwhile (group commit): under load, concurrent sends share a round trip and a commit
    instead of one each, and a send is marked as soon as it would be alone (a crash between the
    SMTP answer and the mark resends the email, so that window stays one round trip)."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._waiting: list[tuple[Lease, asyncio.Future[None]]] = []
        self._writing: asyncio.Task[None] | None = None

    async def mark(self, lease: Lease) -> None:
        """Return once the delivery is marked sent (if the lease still holds it); raise what the
        database raised if not."""
        marked = asyncio.get_running_loop().create_future()
        self._waiting.append((lease, marked))
        if self._writing is None or self._writing.done():
            self._writing = asyncio.create_task(self._write_while_waiting())
        await marked

    async def _write_while_waiting(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                async with self._database.pool.acquire() as connection:
                    await delivery_log.mark_sent(connection, [lease for lease, _ in batch])
            except Exception as error:
                for _, marked in batch:
                    _settle(marked, error)
            else:
                for _, marked in batch:
                    _settle(marked, None)


def _settle(future: "asyncio.Future[None]", error: Exception | None) -> None:
    if future.done():  # its sender was cancelled meanwhile
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


class DeliveryWorker(BackgroundLoop):
    def __init__(self, database: Database, emails: Emails, settings: NotificationsSettings) -> None:
        super().__init__(
            "delivery-worker",
            self.send_due,
            interval_seconds=settings.delivery_poll_seconds,
            stop_timeout_seconds=settings.smtp_timeout_seconds + 5,
        )
        self._database = database
        self._emails = emails
        self._settings = settings
        self._smtp = SmtpPool(settings)
        self._sent = SentMarks(database)
        # Names this worker in the delivery log (leased_by): which host and process held it.
        self.name = f"{socket.gethostname()}:{os.getpid()}"

    async def stop(self) -> None:
        await super().stop()
        await self._smtp.close()

    async def send_due(self) -> bool:
        """Send one batch of due deliveries; ``True`` when the batch was full (more may wait)."""
        settings = self._settings
        async with self._database.pool.acquire() as connection:
            due = await delivery_log.claim_due_deliveries(
                connection,
                limit=settings.delivery_batch_size,
                lease_seconds=settings.lease_seconds(),
                worker=self.name,
            )
        await asyncio.gather(*(self._deliver(delivery) for delivery in due))
        return len(due) == settings.delivery_batch_size

    async def _deliver(self, delivery: asyncpg.Record) -> None:
        """Send in the trace of the event that recorded the email (when it was traced)."""
        with continued_trace(delivery["trace_context"]):
            await self._deliver_in_trace(delivery)

    async def _deliver_in_trace(self, delivery: asyncpg.Record) -> None:
        lease: Lease = (delivery["delivery_id"], delivery["lease_token"])
        kind = delivery["kind"]
        try:
            sent = await self._send(delivery, lease)
        except Exception as raw_error:
            await self._record_failure(delivery, classify(raw_error))
            return
        if sent:
            await self._sent.mark(lease)
            EMAILS.labels(kind, "sent").inc()
            log.info("email sent", delivery_id=str(lease[0]), kind=kind)

    async def _send(self, delivery: asyncpg.Record, lease: Lease) -> bool:
        settings = self._settings
        with tracer.start_as_current_span(
            "smtp send",
            kind=SpanKind.CLIENT,
            attributes={
                "server.address": settings.smtp_host,
                "server.port": settings.smtp_port,
                "talent.delivery_id": str(delivery["delivery_id"]),
                "talent.email_kind": delivery["kind"],
            },
        ):
            message = self._emails.message(delivery)

            async def confirm() -> bool:
                return await self._confirm(lease, delivery["kind"])

            return await self._smtp.send(message, confirm=confirm)

    async def _confirm(self, lease: Lease, kind: str) -> bool:
        """Whether the lease still holds the delivery and its address may be sent to."""
        async with self._database.pool.acquire() as connection:
            state = await delivery_log.confirm_lease(
                connection, *lease, lease_seconds=self._settings.lease_seconds()
            )
        if state == "suppressed":
            EMAILS.labels(kind, "suppressed").inc()
        elif state == "lost":
            log.warning("lease taken over, not sent", delivery_id=str(lease[0]), kind=kind)
        return state == "held"

    async def _record_failure(self, delivery: asyncpg.Record, error: Exception) -> None:
        delivery_id, token, kind = (
            delivery["delivery_id"],
            delivery["lease_token"],
            delivery["kind"],
        )
        message = f"{type(error).__name__}: {error}"[:1000]
        out_of_attempts = delivery["attempts"] >= self._settings.delivery_max_attempts
        async with self._database.pool.acquire() as connection, connection.transaction():
            if isinstance(error, PermanentSendError) or out_of_attempts:
                failed = await delivery_log.mark_failed(
                    connection, delivery_id, token, error=message
                )
                if failed and isinstance(error, PermanentSendError) and error.refused:
                    await suppress_after_refusal(
                        connection, delivery_id, delivery["to_address"], refusal=str(error)
                    )
                EMAILS.labels(kind, "failed").inc()
                log.warning("email failed", delivery_id=str(delivery_id), kind=kind, error=message)
                return
            delay = self.retry_delay(delivery["attempts"])
            await delivery_log.mark_retry(
                connection, delivery_id, token, error=message, delay_seconds=delay
            )
        EMAILS.labels(kind, "retried").inc()
        log.warning(
            "email will be retried", delivery_id=str(delivery_id), kind=kind, delay=round(delay, 1)
        )

    def retry_delay(self, attempts: int) -> float:
        """Exponential backoff with jitter after ``attempts`` tries, capped."""
        settings = self._settings
        ceiling = min(
            settings.delivery_retry_max_seconds,
            settings.delivery_retry_base_seconds * 2 ** max(attempts - 1, 0),
        )
        return random.uniform(ceiling / 2, ceiling)
