"""The delivery worker on the real PostgreSQL and a real SMTP server: many sends that end at the
same moment are all marked sent, each email once."""

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from devsupport.databases import migrated_pool
from talent_notifications.delivery import DeliveryWorker
from talent_notifications.delivery_log import NewDelivery, insert_deliveries
from talent_notifications.emails import Emails, RenderedEmail
from talent_notifications.settings import NotificationsSettings
from talent_shared.db import Database, Pool
from tests.support.smtp import SmtpServer

pytestmark = pytest.mark.integration

DELIVERIES = 30


@pytest.fixture(scope="module")
async def pool(infrastructure: None) -> AsyncIterator[Pool]:
    async with migrated_pool("talent_notifications", "delivery_worker", max_size=4) as pool:
        yield pool


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def welcome_to(address: str) -> NewDelivery:
    return NewDelivery(
        delivery_id=uuid.uuid4(),
        dedup_key=f"welcome:{address}",
        candidate_id=uuid.uuid4(),
        kind="welcome",
        to_address=address,
        content=RenderedEmail(subject="Welcome", text="Hello\n", html="<p>Hello</p>\n"),
        job_ids=[],
    )


async def test_sends_ending_together_are_all_marked_sent_and_sent_once(
    pool: Pool, smtp: SmtpServer
) -> None:
    settings = NotificationsSettings(smtp_port=smtp.port, smtp_pool_size=4)
    deliveries = [welcome_to(f"together-{n}@example.org") for n in range(DELIVERIES)]
    async with pool.acquire() as connection:
        await insert_deliveries(connection, deliveries)
    worker = DeliveryWorker(Database.of(pool), Emails(settings), settings)
    try:
        await worker.send_due()  # one batch: 30 sends over 4 connections, marked as they end
        await worker.send_due()  # nothing is due any more
    finally:
        await worker.stop()
    ids = [delivery.delivery_id for delivery in deliveries]
    statuses = await pool.fetch(
        "SELECT status, sent_at IS NOT NULL AS stamped FROM deliveries WHERE delivery_id = ANY($1)",
        ids,
    )
    assert [(row["status"], row["stamped"]) for row in statuses] == [("sent", True)] * DELIVERIES
    received = [message["To"] for message in smtp.handler.messages]
    assert sorted(received) == sorted(delivery.to_address for delivery in deliveries)
