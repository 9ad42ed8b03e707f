"""`talent-admin feedback ingest MAILDIR`, the console script, against the notifications service
as a process (real PostgreSQL and broker): the bounces and complaints of the bounce mailbox
suppress the addresses of the deliveries they name, a complaint is sent on to signup, and a
message taken is not taken again."""

import asyncio
import json
import mailbox
import os
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from devsupport.databases import fresh_database
from devsupport.services import ServiceProcess, start_service
from services.notifications.tests.feedback_reports import BOUNCE_ADDRESS, DOMAIN, report
from talent_notifications.delivery_log import NewDelivery, insert_delivery
from talent_notifications.emails import RenderedEmail
from talent_shared.settings import DEVELOPMENT_ADMIN_TOKEN

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def notifications(
    infrastructure: None, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[ServiceProcess, str]]:
    async with fresh_database("feedback_intake") as database:
        process = start_service(
            "notifications",
            database,
            tmp_path_factory.mktemp("feedback-intake-logs"),
            KAFKA_AUTO_OFFSET_RESET="latest",
            BOUNCE_ADDRESS=BOUNCE_ADDRESS,
            MAIL_FROM=f"Talent Network <talent-network@{DOMAIN}>",
        )
        try:
            await asyncio.to_thread(process.wait_ready)
            yield process, database
        finally:
            process.kill()


async def sent_welcome(database: str, address: str) -> tuple[uuid.UUID, uuid.UUID]:
    """A welcome recorded to ``address`` (as if sent): (its delivery id, its candidate id)."""
    delivery = NewDelivery(
        delivery_id=uuid.uuid4(),
        dedup_key=f"welcome:{address}",
        candidate_id=uuid.uuid4(),
        kind="welcome",
        to_address=address,
        content=RenderedEmail(subject="Welcome", text="Hello\n", html="<p>Hello</p>\n"),
        job_ids=[],
    )
    connection = await asyncpg.connect(database)
    try:
        await insert_delivery(connection, delivery)
        await connection.execute(
            "UPDATE deliveries SET status = 'sent' WHERE delivery_id = $1", delivery.delivery_id
        )
    finally:
        await connection.close()
    return delivery.delivery_id, delivery.candidate_id


def ingest(maildir: Path, notifications: ServiceProcess) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["talent-admin", "feedback", "ingest", str(maildir)],
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **os.environ,
            "NOTIFICATIONS_URL": notifications.url,
            "ADMIN_API_TOKEN": DEVELOPMENT_ADMIN_TOKEN,
        },
        check=False,
    )


async def fetch(database: str, query: str, *arguments: object) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(database)
    try:
        return await connection.fetch(query, *arguments)
    finally:
        await connection.close()


async def suppressions_of(database: str, address: str) -> list[asyncpg.Record]:
    return await fetch(
        database,
        "SELECT reason FROM suppressions "
        "WHERE address_hash = sha256(convert_to(lower($1), 'UTF8'))",
        address,
    )


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("dsn-outlook-mailbox-full.eml", "bounce"),
        ("dsn-gmail-address-not-found.eml", "bounce"),
        ("arf-yahoo-abuse.eml", "complaint"),
        ("arf-aol-headers-only.eml", "complaint"),
    ],
)
async def test_a_report_in_the_bounce_mailbox_suppresses_the_address_of_its_delivery(
    notifications: tuple[ServiceProcess, str], tmp_path: Path, name: str, kind: str
) -> None:
    process, database = notifications
    address = f"{uuid.uuid4().hex[:10]}@example.net"
    delivery_id, candidate_id = await sent_welcome(database, address)
    maildir = mailbox.Maildir(tmp_path / "bounces")
    maildir.add(report(name, delivery_id, address))
    taken = await asyncio.to_thread(ingest, tmp_path / "bounces", process)
    assert taken.returncode == 0, taken.stdout + taken.stderr
    [line] = [json.loads(line) for line in taken.stdout.splitlines()]
    assert (line["kind"], line["delivery_id"], line["suppressed"]) == (kind, str(delivery_id), True)
    [suppression] = await suppressions_of(database, address)
    assert suppression["reason"] == kind
    complaints = await fetch(
        database,
        "SELECT event_type FROM outbox WHERE message_key = $1",
        str(candidate_id),
    )
    assert [row["event_type"] for row in complaints] == (
        ["ComplaintReceived"] if kind == "complaint" else []
    )


async def test_a_message_taken_is_not_taken_again(
    notifications: tuple[ServiceProcess, str], tmp_path: Path
) -> None:
    process, database = notifications
    address = f"{uuid.uuid4().hex[:10]}@example.net"
    delivery_id, _ = await sent_welcome(database, address)
    mailbox.Maildir(tmp_path / "bounces").add(report("arf-yahoo-abuse.eml", delivery_id, address))
    first = await asyncio.to_thread(ingest, tmp_path / "bounces", process)
    again = await asyncio.to_thread(ingest, tmp_path / "bounces", process)
    assert (len(first.stdout.splitlines()), again.stdout) == (1, "")
    assert list((tmp_path / "bounces" / "new").iterdir()) == []


async def test_a_delay_notice_is_taken_and_suppresses_nothing(
    notifications: tuple[ServiceProcess, str], tmp_path: Path
) -> None:
    process, database = notifications
    address = f"{uuid.uuid4().hex[:10]}@example.net"
    delivery_id, _ = await sent_welcome(database, address)
    mailbox.Maildir(tmp_path / "bounces").add(
        report("dsn-postfix-delayed.eml", delivery_id, address)
    )
    taken = await asyncio.to_thread(ingest, tmp_path / "bounces", process)
    assert json.loads(taken.stdout)["kind"] == "ignored"
    assert await suppressions_of(database, address) == []
