"""The delivery worker: sends recorded emails over SMTP, apart from the Kafka consumers, so a
slow or absent mail server never stalls consuming.

A due delivery is leased (its next attempt pushed past the send timeout) before it is sent, so
two workers never send it at once, and one that dies mid-send leaves it due again. Transient
failures (4xx replies, timeouts, refused connections) are retried with exponential backoff and
jitter up to DELIVERY_MAX_ATTEMPTS; a 5xx reply fails the delivery at once.

Messages go through a few SMTP connections kept open (:class:`SmtpPool`, SMTP_POOL_SIZE), not
one connection per email: connecting, EHLO and QUIT cost more than the message itself.
"""

import asyncio
import contextlib
import random
from uuid import UUID

import aiosmtplib
import asyncpg
from opentelemetry.trace import SpanKind
from prometheus_client import Counter

from talent_notifications import repository
from talent_notifications.emails import Emails, OutgoingEmail
from talent_notifications.settings import NotificationsSettings
from talent_shared.background import BackgroundLoop
from talent_shared.db import Database
from talent_shared.logging import get_logger
from talent_shared.tracing import continued_trace, tracer

log = get_logger(__name__)

EMAILS = Counter(
    "talent_emails_total", "Delivery attempts by kind and outcome", ["kind", "outcome"]
)


class PermanentSendError(Exception):
    """The server refused the message for good (5xx): retrying cannot help."""


TRANSIENT_SMTP_ERRORS = (
    aiosmtplib.SMTPConnectError,
    aiosmtplib.SMTPServerDisconnected,
    aiosmtplib.SMTPTimeoutError,
    OSError,
    TimeoutError,
)


def _classify(error: Exception) -> Exception:
    """Transient (retry later): a 4xx reply, a timeout, no connection. Anything else, a 5xx
    reply or a message that cannot be sent at all, is a PermanentSendError."""
    if isinstance(error, aiosmtplib.SMTPResponseException):
        return (
            error
            if 400 <= error.code < 500
            else PermanentSendError(f"{error.code} {error.message}")
        )
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        if any(400 <= refused.code < 500 for refused in error.recipients):
            return error
        return PermanentSendError("; ".join(f"{r.code} {r.message}" for r in error.recipients))
    if isinstance(error, TRANSIENT_SMTP_ERRORS):
        return error
    return PermanentSendError(f"{type(error).__name__}: {error}")


def lease_seconds(settings: NotificationsSettings) -> float:
    """How long a claimed delivery stays out of other workers' reach: past any send's timeout."""
    return settings.smtp_timeout_seconds * 3 + 30


class SmtpPool:
    """Up to ``smtp_pool_size`` SMTP connections, each sending one message at a time and kept
    open for the next. A connection that failed in any way is closed, never reused, so a reply
    mid-session cannot leave a half-done transaction behind; a kept connection the server has
    closed meanwhile is replaced and the message sent once on the new one."""

    def __init__(self, settings: NotificationsSettings) -> None:
        self._settings = settings
        self._slots = asyncio.Semaphore(settings.smtp_pool_size)
        self._idle: list[aiosmtplib.SMTP] = []

    async def send(self, message: OutgoingEmail) -> None:
        async with self._slots:
            smtp = self._idle.pop() if self._idle else None
            if smtp is not None and smtp.is_connected:
                try:
                    await _send_on(smtp, message)
                except aiosmtplib.SMTPServerDisconnected:
                    smtp.close()  # closed by the server while idle: send on a new connection
                else:
                    self._idle.append(smtp)
                    return
            smtp = await self._connect()
            try:
                await _send_on(smtp, message)
            except BaseException:
                smtp.close()
                raise
            self._idle.append(smtp)

    async def _connect(self) -> aiosmtplib.SMTP:
        settings = self._settings
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        smtp = aiosmtplib.SMTP(
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=password,
            start_tls=settings.smtp_starttls,
            timeout=settings.smtp_timeout_seconds,
        )
        await smtp.connect()
        return smtp

    async def close(self) -> None:
        """QUIT every kept connection (politely, within the timeout; a dead one is just closed)."""
        idle, self._idle = self._idle, []
        for smtp in idle:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
                await smtp.quit()
            smtp.close()


async def _send_on(smtp: aiosmtplib.SMTP, message: OutgoingEmail) -> None:
    # 7-bit with ASCII addresses (sign-up refuses others): no SMTPUTF8 nor 8BITMIME needed.
    await smtp.sendmail(message.sender, [message.recipient], message.data)


class SentMarks:
    """Marks sent deliveries in the database, one UPDATE at a time for all the sends that ended
    meanwhile (group commit): under load, concurrent sends share a round trip and a commit
    instead of one each, and a send is marked as soon as it would be alone (a crash between the
    SMTP answer and the mark resends the email, so that window stays one round trip)."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._waiting: list[tuple[UUID, asyncio.Future[None]]] = []
        self._writing: asyncio.Task[None] | None = None

    async def mark(self, delivery_id: UUID) -> None:
        """Return once the delivery is marked sent; raise what the database raised if not."""
        marked = asyncio.get_running_loop().create_future()
        self._waiting.append((delivery_id, marked))
        if self._writing is None or self._writing.done():
            self._writing = asyncio.create_task(self._write_while_waiting())
        await marked

    async def _write_while_waiting(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                async with self._database.pool.acquire() as connection:
                    await repository.mark_sent(
                        connection, [delivery_id for delivery_id, _ in batch]
                    )
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


class DeliveryWorker:
    def __init__(self, database: Database, emails: Emails, settings: NotificationsSettings) -> None:
        self._database = database
        self._emails = emails
        self._settings = settings
        self._smtp = SmtpPool(settings)
        self._sent = SentMarks(database)
        self._loop = BackgroundLoop(
            "delivery-worker",
            self.send_due,
            interval_seconds=settings.delivery_poll_seconds,
            stop_timeout_seconds=settings.smtp_timeout_seconds + 5,
        )

    def start(self) -> None:
        self._loop.start()

    def wake(self) -> None:
        self._loop.wake()

    async def stop(self) -> None:
        await self._loop.stop()
        await self._smtp.close()

    async def send_due(self) -> bool:
        """Send one batch of due deliveries; ``True`` when the batch was full (more may wait)."""
        settings = self._settings
        async with self._database.pool.acquire() as connection:
            due = await repository.claim_due_deliveries(
                connection,
                limit=settings.delivery_batch_size,
                lease_seconds=lease_seconds(settings),
            )
        await asyncio.gather(*(self._deliver(delivery) for delivery in due))
        return len(due) == settings.delivery_batch_size

    async def _deliver(self, delivery: asyncpg.Record) -> None:
        """Send in the trace of the event that recorded the email (when it was traced)."""
        with continued_trace(delivery["trace_context"]):
            await self._deliver_in_trace(delivery)

    async def _deliver_in_trace(self, delivery: asyncpg.Record) -> None:
        delivery_id, kind = delivery["delivery_id"], delivery["kind"]
        try:
            await self._send(delivery)
        except Exception as raw_error:
            error = _classify(raw_error)
            await self._record_failure(delivery, error)
            return
        await self._sent.mark(delivery_id)
        EMAILS.labels(kind, "sent").inc()
        log.info("email sent", delivery_id=str(delivery_id), kind=kind)

    async def _send(self, delivery: asyncpg.Record) -> None:
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
            await self._smtp.send(self._emails.message(delivery))

    async def _record_failure(self, delivery: asyncpg.Record, error: Exception) -> None:
        delivery_id, kind = delivery["delivery_id"], delivery["kind"]
        message = f"{type(error).__name__}: {error}"[:1000]
        out_of_attempts = delivery["attempts"] >= self._settings.delivery_max_attempts
        async with self._database.pool.acquire() as connection:
            if isinstance(error, PermanentSendError) or out_of_attempts:
                await repository.mark_failed(connection, delivery_id, error=message)
                EMAILS.labels(kind, "failed").inc()
                log.warning("email failed", delivery_id=str(delivery_id), kind=kind, error=message)
                return
            delay = self.retry_delay(delivery["attempts"])
            await repository.mark_retry(connection, delivery_id, error=message, delay_seconds=delay)
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
