"""The SMTP connection pool against a real SMTP server (aiosmtpd): connections are reused,
replaced when the server drops them, and a refusal mid-pool is still classified by its code."""

from collections.abc import Iterator
from dataclasses import dataclass, field

import aiosmtplib
import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from talent_notifications.emails import OutgoingEmail
from talent_notifications.settings import NotificationsSettings
from talent_notifications.smtp import PermanentSendError, SmtpPool, classify
from tests.support.smtp import RecordingHandler, SmtpServer


@dataclass
class PeerRecordingHandler(RecordingHandler):
    """Also notes the client port of each accepted message: one port, one connection."""

    peers: list[object] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        if answer.startswith("250"):
            self.peers.append(session.peer)  # (address, port) of the client
        return answer


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.handler = PeerRecordingHandler()
    with server:
        yield server


def pool_for(server: SmtpServer, size: int = 1) -> SmtpPool:
    return SmtpPool(
        NotificationsSettings(smtp_port=server.port, smtp_pool_size=size, smtp_timeout_seconds=5)
    )


def message(to: str) -> OutgoingEmail:
    data = f"From: careers@hospital.example\r\nTo: {to}\r\nSubject: Hello\r\n\r\nHello\r\n"
    return OutgoingEmail(sender="careers@hospital.example", recipient=to, data=data.encode())


async def held() -> bool:
    """The lease of the delivery is still this worker's: send."""
    return True


async def lost() -> bool:
    """Another worker took the delivery over meanwhile: do not send."""
    return False


def peers(server: SmtpServer) -> list[object]:
    assert isinstance(server.handler, PeerRecordingHandler)
    return server.handler.peers


async def test_several_emails_go_over_one_kept_connection(smtp: SmtpServer) -> None:
    pool = pool_for(smtp)
    for n in range(3):
        await pool.send(message(f"ada{n}@example.org"), confirm=held)
    await pool.close()
    assert len(smtp.handler.messages) == 3
    assert len(set(peers(smtp))) == 1


async def test_a_connection_the_server_dropped_is_replaced_and_the_email_sent(
    smtp: SmtpServer,
) -> None:
    pool = pool_for(smtp)
    await pool.send(message("ada@example.org"), confirm=held)
    smtp.stop()  # drops the kept connection
    smtp.start()
    await pool.send(message("grace@example.org"), confirm=held)
    await pool.close()
    assert smtp.handler.to("grace@example.org")
    assert len(set(peers(smtp))) == 2


async def test_4xx_reply_mid_pool_is_transient_and_the_pool_sends_on(smtp: SmtpServer) -> None:
    pool = pool_for(smtp)
    await pool.send(message("ada@example.org"), confirm=held)
    smtp.handler.refuse_with = "451 4.3.0 Mailbox busy, try again later"
    with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
        await pool.send(message("grace@example.org"), confirm=held)
    smtp.handler.refuse_with = None
    await pool.send(message("grace@example.org"), confirm=held)
    await pool.close()
    assert not isinstance(classify(refused.value), PermanentSendError)
    assert smtp.handler.to("grace@example.org")


async def test_5xx_reply_mid_pool_is_permanent_and_the_pool_sends_on(smtp: SmtpServer) -> None:
    pool = pool_for(smtp)
    await pool.send(message("ada@example.org"), confirm=held)
    smtp.handler.refuse_with = "550 5.1.1 No such user"
    with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
        await pool.send(message("grace@example.org"), confirm=held)
    smtp.handler.refuse_with = None
    await pool.send(message("linus@example.org"), confirm=held)
    await pool.close()
    assert isinstance(classify(refused.value), PermanentSendError)
    assert smtp.handler.to("linus@example.org")


async def test_an_email_whose_lease_was_lost_is_not_sent(smtp: SmtpServer) -> None:
    pool = pool_for(smtp)
    assert await pool.send(message("ada@example.org"), confirm=held)
    assert not await pool.send(message("grace@example.org"), confirm=lost)
    await pool.close()
    assert not smtp.handler.to("grace@example.org")


async def test_a_lost_lease_is_seen_on_a_new_connection_before_anything_is_sent(
    smtp: SmtpServer,
) -> None:
    pool = pool_for(smtp)
    assert not await pool.send(message("grace@example.org"), confirm=lost)
    await pool.close()
    assert not smtp.handler.to("grace@example.org")
