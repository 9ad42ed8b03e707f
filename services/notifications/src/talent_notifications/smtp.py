"""Sending over SMTP through a few connections kept open (:class:`SmtpPool`, SMTP_POOL_SIZE), not
one connection per email: connecting, EHLO and QUIT cost more than the message itself. Replies
are told apart: a 4xx, a timeout or no connection is worth retrying; a 5xx is not."""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import aiosmtplib

from talent_notifications.emails import OutgoingEmail
from talent_notifications.settings import NotificationsSettings

# Awaited once a connection is ready, right before the message goes: False stops it.
Confirm = Callable[[], Awaitable[bool]]


class PermanentSendError(Exception):
    """The message cannot be sent, and retrying cannot help. ``refused`` when the server said so
    (a 5xx reply): the address then is suppressed; not when the message itself is at fault."""

    def __init__(self, message: str, *, refused: bool) -> None:
        super().__init__(message)
        self.refused = refused


TRANSIENT_SMTP_ERRORS = (
    aiosmtplib.SMTPConnectError,
    aiosmtplib.SMTPServerDisconnected,
    aiosmtplib.SMTPTimeoutError,
    OSError,
    TimeoutError,
)


def classify(error: Exception) -> Exception:
    """Transient (retry later): a 4xx reply, a timeout, no connection. Anything else, a 5xx
    reply or a message that cannot be sent at all, is a :class:`PermanentSendError`."""
    if isinstance(error, aiosmtplib.SMTPResponseException):
        if 400 <= error.code < 500:
            return error
        return PermanentSendError(f"{error.code} {error.message}", refused=True)
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        if any(400 <= refused.code < 500 for refused in error.recipients):
            return error
        replies = "; ".join(f"{r.code} {r.message}" for r in error.recipients)
        return PermanentSendError(replies, refused=True)
    if isinstance(error, TRANSIENT_SMTP_ERRORS):
        return error
    return PermanentSendError(f"{type(error).__name__}: {error}", refused=False)


class SmtpPool:
    """Up to ``smtp_pool_size`` SMTP connections, each sending one message at a time and kept
    open for the next. A connection that failed in any way is closed, never reused, so a reply
    mid-session cannot leave a half-done transaction behind; a kept connection the server has
    closed meanwhile is replaced and the message sent once on the new one."""

    def __init__(self, settings: NotificationsSettings) -> None:
        self._settings = settings
        self._slots = asyncio.Semaphore(settings.smtp_pool_size)
        self._idle: list[aiosmtplib.SMTP] = []

    async def send(self, message: OutgoingEmail, *, confirm: Confirm) -> bool:
        """Send ``message`` unless ``confirm()`` says not to; ``True`` when it was sent."""
        async with self._slots:
            smtp = self._idle.pop() if self._idle else None
            if smtp is not None and smtp.is_connected:
                if not await confirm():
                    self._idle.append(smtp)
                    return False
                try:
                    await _send_on(smtp, message)
                except aiosmtplib.SMTPServerDisconnected:
                    smtp.close()  # closed by the server while idle: send on a new connection
                else:
                    self._idle.append(smtp)
                    return True
            smtp = await self._connect()
            try:
                sent = await confirm() and await _send_on(smtp, message)
            except BaseException:
                smtp.close()
                raise
            self._idle.append(smtp)
            return sent

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


async def _send_on(smtp: aiosmtplib.SMTP, message: OutgoingEmail) -> bool:
    # 7-bit with ASCII addresses (sign-up refuses others): no SMTPUTF8 nor 8BITMIME needed.
    await smtp.sendmail(message.sender, [message.recipient], message.data)
    return True
