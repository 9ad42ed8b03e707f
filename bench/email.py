"""Sign-up → welcome email: a burst of sign-ups against a signup and a notifications service on
fresh databases, each welcome timed from the sign-up's 201 to its arrival at an SMTP server that
accepts at full speed (aiosmtpd in its own process, recording each arrival), beside raw aiosmtplib
sending as many messages to that server. Each stage is timed from the services' own records:
outbox row and Kafka record (signup), delivery row and its lease (notifications), arrival (SMTP).
"""

import asyncio
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import aiosmtplib
import asyncpg
from aiokafka import AIOKafkaConsumer

from bench.common import MemorySampler, Options, percentile, timed_concurrently
from bench.table import Goal, Row
from devsupport.databases import fresh_database
from devsupport.ports import free_port
from devsupport.services import ServiceProcess, start_service
from talent_notifications.emails import Emails
from talent_notifications.settings import NotificationsSettings
from talent_shared.events import CANDIDATES_TOPIC

MemoryRows = Callable[[str, MemorySampler], list[Row]]

SIGNUPS = 1_000
SIGNUP_CONCURRENCY = 32
DOMAIN = "bench.example.org"
# Our notifications service's mail domain (its Message-IDs end in it): no other service's.
MAIL_DOMAIN = f"h2-{uuid.uuid4().hex[:8]}.example.org"
# The candidates' interest: a category no job has. Jobs posted on the same topic meanwhile (by
# another bench or a test on this broker) would otherwise send them alerts, which the sink counted
# as duplicate welcomes and which competed with the welcomes for the delivery worker. Matching
# still runs for every sign-up, as before.
INTEREST = f"Bench {uuid.uuid4().hex[:8]}"

# The sink: aiosmtpd in its own process, appending "<epoch seconds> <recipient> <Message-ID>"
# per message. Other notifications services on this machine may send here too (they consume the
# same topic, and a port freed by another test may be ours now): only our Message-IDs count.
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


@dataclass
class SmtpSink:
    port: int
    arrivals_path: Path

    def _lines(self, domain: str) -> list[tuple[float, str, str]]:
        """(arrival, recipient, Message-ID) of each message from a service of ``domain``."""
        lines = [line.split(" ") for line in self.arrivals_path.read_text().splitlines()]
        return [(float(at), to, mid) for at, to, mid in lines if mid.endswith(f"@{domain}")]

    def arrivals(self, domain: str) -> dict[str, float]:
        """Recipient -> arrival time (epoch seconds) of the first message so far."""
        arrived: dict[str, float] = {}
        for at, recipient, _ in self._lines(domain):
            arrived.setdefault(recipient, at)
        return arrived

    def duplicates(self, domain: str) -> int:
        """Messages beyond the first to the same recipient."""
        lines = self._lines(domain)
        return len(lines) - len({recipient for _, recipient, _ in lines})

    def clear(self) -> None:
        self.arrivals_path.write_text("")


@asynccontextmanager
async def smtp_sink(directory: Path) -> AsyncIterator[SmtpSink]:
    port, arrivals = free_port(), directory / "arrivals.txt"
    arrivals.touch()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SINK,
        str(port),
        str(arrivals),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stdin is not None
    try:
        await process.stdout.readline()  # "ready"
        yield SmtpSink(port, arrivals)
    finally:
        process.stdin.close()
        await asyncio.wait_for(process.wait(), 10)


@dataclass(frozen=True)
class Services:
    signup: ServiceProcess
    notifications: ServiceProcess
    signup_database: str
    notifications_database: str
    memory: dict[str, MemorySampler]


@asynccontextmanager
async def services_under_bench(logs: Path, smtp_port: int) -> AsyncIterator[Services]:
    """Signup and notifications on fresh databases; double opt-in off (the default)."""
    async with (
        fresh_database("bench_signup") as signup_db,
        fresh_database("bench_notifications") as notifications_db,
    ):
        common = {"LOG_LEVEL": "WARNING", "KAFKA_AUTO_OFFSET_RESET": "latest"}
        signup = start_service("signup", signup_db, logs, **common)
        notifications = start_service(
            "notifications",
            notifications_db,
            logs,
            SMTP_PORT=str(smtp_port),
            MAIL_FROM=f"Bench <bench@{MAIL_DOMAIN}>",
            **common,
        )
        memory = {
            "signup": MemorySampler([signup.process.pid]),
            "notifications": MemorySampler([notifications.process.pid]),
        }
        try:
            ready = (asyncio.to_thread(service.wait_ready) for service in (signup, notifications))
            await asyncio.gather(*ready)
            for sampler in memory.values():
                sampler.start()
            yield Services(signup, notifications, signup_db, notifications_db, memory)
        finally:
            for sampler in memory.values():
                await sampler.stop()
            signup.terminate()
            notifications.terminate()


def _signup_body(email: str, n: int) -> dict[str, Any]:
    return {
        "email": email,
        "first_name": "Bench",
        "last_name": f"Candidate{n}",
        "consent": True,
        "interests": [INTEREST],
        "alert_frequency": "instant",
    }


async def _sign_up_burst(url: str, emails: Sequence[str]) -> dict[str, float]:
    """POST every sign-up with bounded concurrency; email -> time of its 201 (epoch seconds)."""
    answered: dict[str, float] = {}
    # aiohttp, not httpx: at this concurrency httpx's connection pool cost the client about
    # 2.7 ms of CPU per request (aiohttp: 0.17 ms), so the bench, sharing the two cores with the
    # services, limited the sign-ups it measured.
    connector = aiohttp.TCPConnector(limit=SIGNUP_CONCURRENCY)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(url, connector=connector, timeout=timeout) as client:

        async def sign_up(n: int) -> None:
            # Each from its own visitor address, as through the gateway (a trusted proxy): one
            # client address for all would make its rate-limit row the bottleneck.
            visitor = {"X-Forwarded-For": f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"}
            body = _signup_body(emails[n], n)
            async with client.post("/v1/signups", json=body, headers=visitor) as response:
                if response.status != 201:
                    text = await response.text()
                    sys.exit(f"bench: sign-up answered {response.status}: {text}")
                await response.read()
            answered[emails[n]] = time.time()

        await timed_concurrently(len(emails), SIGNUP_CONCURRENCY, sign_up)
    return answered


async def _wait_for_arrivals(sink: SmtpSink, emails: Sequence[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(sink.arrivals(MAIL_DOMAIN).keys() & set(emails)) == len(emails):
            return
        await asyncio.sleep(0.1)
    sys.exit(f"bench: welcome emails missing after {timeout:.0f} s")


@asynccontextmanager
async def candidates_topic_from_now() -> AsyncIterator[AIOKafkaConsumer]:
    """A reader of the candidates topic positioned at its end (before the burst)."""
    # No group: every partition is assigned to this reader, from its end ("latest").
    consumer = AIOKafkaConsumer(
        CANDIDATES_TOPIC,
        bootstrap_servers=_bootstrap(),
        enable_auto_commit=False,
        auto_offset_reset="latest",
    )
    await consumer.start()
    try:
        for _ in range(200):  # the partitions are assigned once metadata has come
            if consumer.assignment():
                break
            await asyncio.sleep(0.05)
        for partition in consumer.assignment():
            await consumer.position(partition)  # the end now, not at the first read
        yield consumer
    finally:
        await consumer.stop()


async def _kafka_timestamps(consumer: AIOKafkaConsumer, keys: set[str]) -> dict[str, float]:
    """Message key -> Kafka record timestamp (the producer's send time)."""
    found: dict[str, float] = {}
    deadline = time.monotonic() + 30
    while len(found) < len(keys) and time.monotonic() < deadline:
        for records in (await consumer.getmany(timeout_ms=500)).values():
            for record in records:
                key = (record.key or b"").decode()
                if key in keys:
                    found.setdefault(key, record.timestamp / 1000)
    return found


def _bootstrap() -> str:
    return ",".join(NotificationsSettings().kafka_bootstrap_servers)


@dataclass(frozen=True)
class Trail:
    """One sign-up's moments (epoch seconds) from answer to arrival."""

    answered: float
    outbox_written: float
    in_kafka: float
    delivery_recorded: float
    delivery_leased: float
    arrived: float


async def _trails(
    services: Services,
    answered: dict[str, float],
    arrivals: dict[str, float],
    kafka: AIOKafkaConsumer,
) -> list[Trail]:
    signup = await asyncpg.connect(services.signup_database)
    notifications = await asyncpg.connect(services.notifications_database)
    try:
        outbox = await signup.fetch(
            """SELECT c.email, o.message_key, o.created_at FROM outbox AS o
               JOIN candidates AS c ON o.message_key = c.candidate_id::text
               WHERE o.event_type = 'CandidateSignedUp'"""
        )
        deliveries = await notifications.fetch(
            """SELECT to_address, created_at, next_attempt_at FROM deliveries
               WHERE kind = 'welcome'"""
        )
    finally:
        await signup.close()
        await notifications.close()
    in_kafka = await _kafka_timestamps(kafka, {row["message_key"] for row in outbox})
    lease = NotificationsSettings().lease_seconds()
    recorded = {row["to_address"]: row for row in deliveries}
    return [
        Trail(
            answered=answered[row["email"]],
            outbox_written=row["created_at"].timestamp(),
            in_kafka=in_kafka[row["message_key"]],
            delivery_recorded=recorded[row["email"]]["created_at"].timestamp(),
            delivery_leased=recorded[row["email"]]["next_attempt_at"].timestamp() - lease,
            arrived=arrivals[row["email"]],
        )
        for row in outbox
        if row["email"] in answered
    ]


STAGES = (
    ("outbox relay: row written → record in Kafka", "outbox_written", "in_kafka"),
    ("consumer: record in Kafka → delivery recorded", "in_kafka", "delivery_recorded"),
    ("delivery worker: recorded → leased for sending", "delivery_recorded", "delivery_leased"),
    ("SMTP: leased → message at the server", "delivery_leased", "arrived"),
)


def _stage_rows(trails: list[Trail]) -> list[Row]:
    rows = []
    for label, start, end in STAGES:
        seconds = [getattr(t, end) - getattr(t, start) for t in trails]
        rows.append(
            Row(
                f"sign-up → welcome, stage {label}, p99",
                percentile(seconds, 99),
                "ms",
                detail=f"p50 {percentile(seconds, 50):,.0f} ms",
            )
        )
    return rows


async def _raw_smtp_rate(port: int, count: int, concurrency: int) -> float:
    """Messages/s of raw aiosmtplib: ``concurrency`` connections kept open, sending welcomes."""
    emails = Emails(NotificationsSettings())
    messages = [
        emails.message(_raw_delivery(emails, f"raw-{n}@{DOMAIN}"))  # type: ignore[arg-type]
        for n in range(count)
    ]
    queue = iter(messages)

    async def connection() -> None:
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port) as smtp:
            for message in queue:
                await smtp.sendmail(message.sender, [message.recipient], message.data)

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return count / (time.perf_counter() - started)


def _raw_delivery(emails: Emails, address: str) -> dict[str, Any]:
    candidate_id = uuid.uuid4()
    content = emails.welcome(candidate_id=candidate_id, first_name="Bench", frequency="instant")
    return {
        "delivery_id": uuid.uuid4(),
        "candidate_id": candidate_id,
        "kind": "welcome",
        "to_address": address,
        "subject": content.subject,
        "body_text": content.text,
        "body_html": content.html,
        "created_at": datetime.now(UTC),
    }


async def measure(options: Options, memory_rows: MemoryRows) -> list[Row]:
    """The issue's burst of 1,000 sign-ups (``options`` sets nothing here)."""
    del options
    with tempfile.TemporaryDirectory() as directory:
        async with smtp_sink(Path(directory)) as sink:
            async with services_under_bench(Path(directory), sink.port) as services:
                rows = await _burst(services, sink)
                rows += _memory_rows(services.memory, memory_rows)
            sink.clear()
            concurrency = NotificationsSettings().smtp_pool_size
            raw = await _raw_smtp_rate(sink.port, SIGNUPS, concurrency)
    rate_row, *others = rows
    rate_row = Row(
        rate_row.measure,
        rate_row.value,
        rate_row.unit,
        Goal("at_least", 300),
        baseline=raw,
        baseline_is=f"raw aiosmtplib, {concurrency} open connections",
        detail=rate_row.detail,
    )
    return [rate_row, *others]


async def _burst(services: Services, sink: SmtpSink) -> list[Row]:
    run = uuid.uuid4().hex[:8]
    emails = [f"bench-{run}-{n}@{DOMAIN}" for n in range(SIGNUPS)]
    await _warm_up(services, sink, run)
    async with candidates_topic_from_now() as kafka:
        started = time.time()
        answered = await _sign_up_burst(services.signup.url, emails)
        await _wait_for_arrivals(sink, emails, timeout=120)
        arrivals = sink.arrivals(MAIL_DOMAIN)
        trails = await _trails(services, answered, arrivals, kafka)
    last = max(arrivals[email] for email in emails)
    latencies = [arrivals[email] - answered[email] for email in emails]
    return [
        Row(
            f"sign-up → welcome, {SIGNUPS:,} sign-ups at concurrency {SIGNUP_CONCURRENCY}",
            SIGNUPS / (last - started),
            "emails/s",
            detail=f"sign-ups answered at {SIGNUPS / (max(answered.values()) - started):,.0f}/s",
        ),
        Row(
            "sign-up → welcome, 201 → at the SMTP server, p99",
            percentile(latencies, 99),
            "ms",
            Goal("at_most", 1000),
            detail=f"p50 {percentile(latencies, 50):,.0f} ms",
        ),
        Row(
            "sign-up → welcome, duplicate emails",
            sink.duplicates(MAIL_DOMAIN),
            "emails",
            Goal("at_most", 0),
        ),
        *_stage_rows(trails),
    ]


async def _warm_up(services: Services, sink: SmtpSink, run: str) -> None:
    """One sign-up through the whole path first: consumers joined, connections open."""
    email = f"warm-{run}@{DOMAIN}"
    await _sign_up_burst(services.signup.url, [email])
    await _wait_for_arrivals(sink, [email], timeout=60)


def _memory_rows(memory: dict[str, MemorySampler], memory_rows: MemoryRows) -> list[Row]:
    return [row for service, sampler in memory.items() for row in memory_rows(service, sampler)]
