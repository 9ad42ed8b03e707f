"""Sign-up → welcome email, the issue's burst of 1,000 on a quiet stack: sign-ups answered per
second, welcomes per second beside raw aiosmtplib sending as many to the same server, the p99
from 201 to arrival, duplicates, and each stage timed from the services' own records: outbox row
and Kafka record (signup), delivery row and its lease (notifications), arrival (SMTP)."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiosmtplib
import asyncpg
from aiokafka import AIOKafkaConsumer

from bench.common import Options, percentile, until
from bench.settle import mark, settle
from bench.signups import SIGNUPS, Welcomes, sign_up_burst, signup_bodies, wait_for_welcomes
from bench.stack import Stack
from bench.table import Goal, Row
from devsupport.infra import kafka_bootstrap
from talent_notifications.emails import Emails
from talent_notifications.settings import NotificationsSettings
from talent_shared.events import CANDIDATES_TOPIC


@dataclass(frozen=True)
class Burst:
    started: float
    answered: dict[str, float]  # email -> its 201 (epoch seconds)
    welcomes: Welcomes

    def rows(self, key: str, during: str) -> list[Row]:
        """The burst's figures: sign-ups answered, welcomes a second, p99, duplicates."""
        latencies = [self.welcomes.arrived[e] - at for e, at in self.answered.items()]
        last_answer, last_welcome = max(self.answered.values()), max(self.welcomes.arrived.values())
        return [
            Row(f"{key}.answered", f"sign-ups answered, {SIGNUPS:,} at concurrency 32{during}",
                SIGNUPS / (last_answer - self.started), "sign-ups/s", Goal("at_least", 400)),
            Row(f"{key}.rate", f"welcome emails a second{during}",
                SIGNUPS / (last_welcome - self.started), "emails/s", Goal("at_least", 300),
                detail=f"{self.welcomes.other_emails:,} other emails meanwhile"),
            Row(f"{key}.p99", f"welcome, 201 → at the SMTP server, p99{during}",
                percentile(latencies, 99), "ms", Goal("at_most", 1000),
                detail=f"p50 {percentile(latencies, 50):,.0f} ms"),
            Row(f"{key}.duplicates", f"duplicate emails{during}", self.welcomes.duplicates,
                "emails", Goal("at_most", 0)),
        ]  # fmt: skip


async def burst(stack: Stack) -> Burst:
    run = uuid.uuid4().hex[:8]
    bodies = signup_bodies(run, SIGNUPS)
    stack.sink.clear()
    started = time.time()
    answered = await sign_up_burst(stack.url, bodies)
    welcomes = await wait_for_welcomes(stack, list(answered), timeout=300)
    return Burst(started, answered, welcomes)


async def warm_up(stack: Stack) -> None:
    """One sign-up through the whole path first: consumers joined, connections open."""
    while True:
        answered = await sign_up_burst(stack.url, signup_bodies(uuid.uuid4().hex[:8], 1))
        try:
            await asyncio.wait_for(wait_for_welcomes(stack, list(answered), 60), 10)
            return
        except TimeoutError:
            continue  # sent before the consumer group had its partitions ("latest")


async def measure(stack: Stack, options: Options) -> list[Row]:
    del options
    handled = await mark(stack)
    async with candidates_from_now() as kafka:
        result = await burst(stack)
        trails = await _trails(stack, result, kafka)
    await settle(handled)
    raw = await _raw_smtp_rate(stack.sink.port, SIGNUPS, NotificationsSettings().smtp_pool_size)
    rows = result.rows("welcome", "")
    rows[1] = rows[1].against(raw, "raw aiosmtplib, as many open connections (SMTP_POOL_SIZE)")
    return rows + _stage_rows(trails)


@asynccontextmanager
async def candidates_from_now() -> AsyncIterator[AIOKafkaConsumer]:
    """A reader of every partition of the candidates topic, from its end (before the burst)."""
    consumer = AIOKafkaConsumer(
        CANDIDATES_TOPIC, bootstrap_servers=kafka_bootstrap(), enable_auto_commit=False,
        auto_offset_reset="latest",
    )  # fmt: skip
    await consumer.start()
    try:

        async def assigned() -> bool:
            return bool(consumer.assignment())

        await until(assigned, every=0.05, timeout=30, what="the partitions of the reader")
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


STAGES = (
    ("outbox relay: row written → record in Kafka", "outbox_written", "in_kafka"),
    ("consumer: record in Kafka → delivery recorded", "in_kafka", "delivery_recorded"),
    ("delivery worker: recorded → leased for sending", "delivery_recorded", "delivery_leased"),
    ("SMTP: leased → message at the server", "delivery_leased", "arrived"),
)


async def _trails(stack: Stack, burst: Burst, kafka: AIOKafkaConsumer) -> list[dict[str, float]]:
    """Each sign-up's moments (epoch seconds), named as in STAGES."""
    signup = await asyncpg.connect(stack.databases.signup)
    notifications = await asyncpg.connect(stack.databases.notifications)
    try:
        outbox = await signup.fetch(
            """SELECT c.email, o.message_key, o.created_at FROM outbox AS o
               JOIN candidates AS c ON o.message_key = c.candidate_id::text
               WHERE o.event_type = 'CandidateSignedUp' AND c.email = ANY($1::text[])""",
            list(burst.answered),
        )
        deliveries = await notifications.fetch(
            """SELECT to_address, created_at, next_attempt_at FROM deliveries
               WHERE kind = 'welcome' AND to_address = ANY($1::text[])""",
            list(burst.answered),
        )
    finally:
        await signup.close()
        await notifications.close()
    in_kafka = await _kafka_timestamps(kafka, {row["message_key"] for row in outbox})
    lease = NotificationsSettings().lease_seconds()
    recorded = {row["to_address"]: row for row in deliveries}
    return [
        {
            "outbox_written": row["created_at"].timestamp(),
            "in_kafka": in_kafka[row["message_key"]],
            "delivery_recorded": recorded[row["email"]]["created_at"].timestamp(),
            "delivery_leased": recorded[row["email"]]["next_attempt_at"].timestamp() - lease,
            "arrived": burst.welcomes.arrived[row["email"]],
        }
        for row in outbox
    ]


def _stage_rows(trails: list[dict[str, float]]) -> list[Row]:
    rows = []
    for n, (label, start, end) in enumerate(STAGES):
        seconds = [trail[end] - trail[start] for trail in trails]
        rows.append(
            Row(f"welcome.stage{n}", f"welcome, stage {label}, p99", percentile(seconds, 99),
                "ms", detail=f"p50 {percentile(seconds, 50):,.0f} ms")
        )  # fmt: skip
    return rows


async def _raw_smtp_rate(port: int, count: int, concurrency: int) -> float:
    """Messages/s of raw aiosmtplib: ``concurrency`` connections kept open, sending welcomes."""
    emails = Emails(NotificationsSettings())
    messages = [
        emails.message(_raw_delivery(emails, f"raw-{n}@raw.example.org")) for n in range(count)
    ]
    queue = iter(messages)

    async def connection() -> None:
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port) as smtp:
            for message in queue:
                await smtp.sendmail(message.sender, [message.recipient], message.data)

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return count / (time.perf_counter() - started)


def _raw_delivery(emails: Emails, address: str) -> Any:
    candidate_id = uuid.uuid4()
    content = emails.welcome(candidate_id=candidate_id, first_name="Bench", frequency="instant")
    return {
        "delivery_id": uuid.uuid4(), "candidate_id": candidate_id, "kind": "welcome",
        "to_address": address, "subject": content.subject, "body_text": content.text,
        "body_html": content.html, "created_at": datetime.now(UTC),
    }  # fmt: skip
