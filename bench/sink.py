"""The bench's SMTP server: aiosmtpd in a process of its own, accepting every message at once
and writing down when it came, to whom and its Message-ID (the notifications service derives it
from the delivery id, so the bench can tell a welcome from an alert)."""

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

from devsupport.ports import free_port

# Appends "<epoch seconds> <recipient> <Message-ID>" per message and recipient.
SINK = """
import re, sys, time
from aiosmtpd.controller import Controller

MESSAGE_ID = re.compile(rb"^Message-ID: *<([^>]*)>", re.IGNORECASE | re.MULTILINE)

log = open(sys.argv[2], "a", buffering=1)

class Handler:
    async def handle_DATA(self, server, session, envelope):
        now = time.time()
        found = MESSAGE_ID.search(envelope.content or b"")
        message_id = found.group(1).decode() if found else "-"
        for recipient in envelope.rcpt_tos:
            log.write(f"{now} {recipient} {message_id}\\n")
        return "250 OK"

controller = Controller(Handler(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
print("ready", flush=True)
sys.stdin.read()  # until the bench closes our stdin
controller.stop()
"""


@dataclass(frozen=True)
class Arrival:
    at: float  # epoch seconds
    recipient: str
    delivery_id: UUID


@dataclass
class SmtpSink:
    port: int
    arrivals_path: Path

    def arrivals(self, mail_domain: str) -> list[Arrival]:
        """Every message so far from a notifications service whose Message-IDs end in
        ``mail_domain`` (other services on this machine may send here too)."""
        found = []
        for line in self.arrivals_path.read_text().splitlines():
            at, recipient, message_id = line.split(" ")
            local, _, domain = message_id.partition("@")
            if domain == mail_domain:
                found.append(Arrival(float(at), recipient, UUID(local)))
        return found

    def clear(self) -> None:
        self.arrivals_path.write_text("")


@asynccontextmanager
async def smtp_sink(directory: Path) -> AsyncIterator[SmtpSink]:
    port, arrivals = free_port(), directory / "arrivals.txt"
    arrivals.touch()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SINK, str(port), str(arrivals),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    assert process.stdin is not None
    try:
        await process.stdout.readline()  # "ready"
        yield SmtpSink(port, arrivals)
    finally:
        process.stdin.close()
        await asyncio.wait_for(process.wait(), 10)
