"""A real SMTP server for tests (aiosmtpd), whose answers a test can change: refuse with a
4xx/5xx reply, refuse some recipients, hold new sessions before their greeting, go down, come
back."""

import asyncio
import email
import email.policy
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from devsupport.ports import free_port


@dataclass
class RecordingHandler:
    """Keeps every accepted message; answers ``refuse_with`` instead while it is set."""

    messages: list[EmailMessage] = field(default_factory=list)
    raw_messages: list[bytes] = field(default_factory=list)  # as received, same order
    senders: list[str] = field(default_factory=list)  # each message's envelope sender
    refuse_with: str | None = None
    refused: int = 0
    # Recipients answered "550" at RCPT, and every RCPT attempted, in order.
    refuse_recipients: set[str] = field(default_factory=set)
    recipients_tried: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        with self.lock:
            self.recipients_tried.append(address)
            if address.lower() in self.refuse_recipients:
                return f"550 5.1.1 <{address}>: Recipient address rejected: no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self.lock:
            if self.refuse_with:
                self.refused += 1
                return self.refuse_with
            raw = envelope.original_content or envelope.content
            assert isinstance(raw, bytes)
            message = email.message_from_bytes(raw, policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            self.messages.append(message)
            self.raw_messages.append(raw)
            self.senders.append(envelope.mail_from or "")
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if _is_to(m, address)]

    def raw_to(self, address: str) -> list[bytes]:
        """The bytes of each message to ``address``, exactly as the client sent them."""
        with self.lock:
            return [
                raw
                for m, raw in zip(self.messages, self.raw_messages, strict=True)
                if _is_to(m, address)
            ]

    def senders_to(self, address: str) -> list[str]:
        """The envelope sender (MAIL FROM) of each message to ``address``."""
        with self.lock:
            return [
                sender
                for m, sender in zip(self.messages, self.senders, strict=True)
                if _is_to(m, address)
            ]


def _is_to(message: EmailMessage, address: str) -> bool:
    return bool(message["To"]) and address.lower() in str(message["To"]).lower()


class _HeldSMTP(SMTP):
    """An SMTP session that greets only once its server's greetings are released."""

    def __init__(self, handler: RecordingHandler, greetings: threading.Event) -> None:
        super().__init__(handler)
        self._greetings = greetings

    async def _handle_client(self) -> None:
        if not self._greetings.is_set():
            await asyncio.to_thread(self._greetings.wait)
        await super()._handle_client()


class _Controller(Controller):
    def __init__(self, handler: RecordingHandler, greetings: threading.Event, port: int) -> None:
        super().__init__(handler, hostname="127.0.0.1", port=port)
        self._greetings = greetings

    def factory(self) -> SMTP:
        return _HeldSMTP(self.handler, self._greetings)


class SmtpServer:
    def __init__(self) -> None:
        self.handler = RecordingHandler()
        self.port = free_port()
        self._controller: Controller | None = None
        # Set: new sessions are greeted at once; cleared, they wait (a slow or stuck relay).
        self.greetings = threading.Event()
        self.greetings.set()

    def start(self) -> None:
        # Controller.start checks the server answers: it must greet meanwhile.
        held = not self.greetings.is_set()
        self.greetings.set()
        self._controller = _Controller(self.handler, self.greetings, self.port)
        self._controller.start()
        if held:
            self.greetings.clear()

    def hold_greetings(self) -> None:
        """New sessions wait before their greeting until :meth:`release_greetings`."""
        self.greetings.clear()

    def release_greetings(self) -> None:
        self.greetings.set()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> "SmtpServer":
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    async def wait_for(self, address: str, count: int, timeout: float = 20.0) -> list[EmailMessage]:
        """The messages to ``address`` once there are ``count`` (or all there are at timeout)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            messages = self.handler.to(address)
            if len(messages) >= count:
                return messages
            await asyncio.sleep(0.05)
        return self.handler.to(address)
