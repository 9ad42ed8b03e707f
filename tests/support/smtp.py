"""A real SMTP server for tests (aiosmtpd), whose answers a test can change: refuse with a
4xx/5xx reply, go down, come back."""

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
    refuse_with: str | None = None
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

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


def _is_to(message: EmailMessage, address: str) -> bool:
    return bool(message["To"]) and address.lower() in str(message["To"]).lower()


class SmtpServer:
    def __init__(self) -> None:
        self.handler = RecordingHandler()
        self.port = free_port()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self._controller.start()

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
