"""Sign-ups, jobs and emails across the three services: the real broker, databases, and an
SMTP conversation with a server the test controls."""

import asyncio
import re
import uuid
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, urlparse

import asyncpg
import pytest

from devsupport.services import ADMIN_HEADERS
from talent_shared.envelope import new_event
from talent_shared.events import CANDIDATES_TOPIC, CandidateSignedUp
from tests.support.fixtures import Stack
from tests.support.flows import (
    all_known,
    confirm,
    deliveries,
    html_of,
    job_reached_notifications,
    notifications_knows,
    post_job,
    settled,
    sign_up,
    text_of,
    unique,
)
from tests.support.infra import eventually
from tests.support.kafka import raw_producer

pytestmark = pytest.mark.integration


async def test_sign_up_sends_exactly_one_welcome_email(stack: Stack) -> None:
    _, email = await sign_up(stack)
    [welcome] = await stack.smtp.wait_for(email, 1)
    assert "Welcome" in welcome["Subject"]
    await settled(stack, email)
    await asyncio.sleep(1)  # time for a second email, if one were coming
    assert len(stack.smtp.handler.to(email)) == 1


async def test_welcome_email_is_multipart_with_message_id_and_sender(stack: Stack) -> None:
    _, email = await sign_up(stack, first_name="Grace")
    [welcome] = await stack.smtp.wait_for(email, 1)
    assert welcome.get_content_type() == "multipart/alternative"
    assert "Grace" in text_of(welcome)
    assert "Grace" in html_of(welcome)
    assert re.fullmatch(r"<[0-9a-f-]{36}@[\w.-]+>", welcome["Message-ID"])
    assert "talent-network@careers.example.org" in welcome["From"]
    assert welcome["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


async def test_delivery_log_shows_the_sent_welcome(stack: Stack) -> None:
    _, email = await sign_up(stack)
    [item] = await settled(stack, email)
    assert item["kind"] == "welcome"
    assert item["status"] == "sent"
    assert item["to"] == email
    assert item["attempts"] == 1
    assert item["sent_at"]


async def test_sign_up_with_matching_open_jobs_gets_an_alert_listing_them(stack: Stack) -> None:
    category = unique("Pharmacy")
    matching = await post_job(stack, category=category, title="Clinical Pharmacist ICU")
    other = await post_job(stack, category=unique("Research"))
    for job_id in (matching, other):
        await job_reached_notifications(stack, job_id)
    _, email = await sign_up(stack, interests=[category], keywords=["ICU"])
    messages = await stack.smtp.wait_for(email, 2)
    [alert] = [m for m in messages if "Welcome" not in m["Subject"]]
    body = text_of(alert)
    assert f"https://careers.example.org/jobs/{matching}" in body
    assert other not in body
    assert f"{category} · Durham, NC · keyword: ICU" in body


async def test_sign_up_without_matching_jobs_gets_no_alert(stack: Stack) -> None:
    _, email = await sign_up(stack, interests=[unique("Nothing")])
    items = await settled(stack, email)
    assert [item["kind"] for item in items] == ["welcome"]


async def test_new_matching_job_alerts_instant_subscribers_once(stack: Stack) -> None:
    category = unique("Allied Health")
    _, email = await sign_up(stack, interests=[category])
    await stack.smtp.wait_for(email, 1)
    job_id = await post_job(stack, category=category, title="Respiratory Therapist")
    messages = await stack.smtp.wait_for(email, 2)
    [alert] = [m for m in messages if "Welcome" not in m["Subject"]]
    assert alert["Subject"] == "New job for you: Respiratory Therapist"
    assert f"/jobs/{job_id}" in text_of(alert)
    await stack.jobs.patch(f"/v1/jobs/{job_id}", json={"featured": True}, headers=ADMIN_HEADERS)
    await settled(stack, email)
    await asyncio.sleep(1)
    assert len(stack.smtp.handler.to(email)) == 2  # the update did not alert again


async def test_job_update_that_newly_matches_alerts_once(stack: Stack) -> None:
    category = unique("Allied Health")
    _, email = await sign_up(stack, interests=[category], keywords=["telemetry"])
    await stack.smtp.wait_for(email, 1)
    job_id = await post_job(stack, category=category, description="Day shift.")
    await job_reached_notifications(stack, job_id)
    assert [item["kind"] for item in await settled(stack, email)] == ["welcome"]
    for description in ("Day shift on telemetry.", "Night shift on telemetry."):
        response = await stack.jobs.patch(
            f"/v1/jobs/{job_id}", json={"description": description}, headers=ADMIN_HEADERS
        )
        assert response.status_code == 200
    [_, alert] = await stack.smtp.wait_for(email, 2)
    assert f"{category} · Durham, NC · keyword: telemetry" in text_of(alert)
    await settled(stack, email)
    await asyncio.sleep(1)
    assert len(stack.smtp.handler.to(email)) == 2


async def test_alert_has_one_click_unsubscribe_headers(stack: Stack) -> None:
    category = unique("IT")
    _, email = await sign_up(stack, interests=[category])
    await stack.smtp.wait_for(email, 1)
    await post_job(stack, category=category)
    [_, alert] = await stack.smtp.wait_for(email, 2)
    assert alert.get_content_type() == "multipart/alternative"
    assert alert["Message-ID"]
    entries = re.findall(r"<([^>]+)>", alert["List-Unsubscribe"])
    https = [
        e for e in entries if e.startswith("https://careers.example.org/v1/unsubscribe?token=")
    ]
    mailto = [e for e in entries if e.startswith("mailto:")]
    assert len(https) == 1
    assert len(mailto) == 1
    assert alert["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


async def unsubscribed_here(stack: Stack, candidate_id: str) -> bool:
    """Whether the notifications service holds the candidate unsubscribed."""
    connection = await asyncpg.connect(stack.notifications_database)
    try:
        return not await connection.fetchval(
            "SELECT subscribed FROM subscribers WHERE candidate_id = $1", uuid.UUID(candidate_id)
        )
    finally:
        await connection.close()


async def unsubscribe_from(stack: Stack, message: EmailMessage) -> None:
    """One click on the email's List-Unsubscribe link."""
    link = re.findall(r"<(https://[^>]+)>", message["List-Unsubscribe"])[0]
    token = parse_qs(urlparse(link).query)["token"][0]
    response = await stack.signup.post(
        "/v1/unsubscribe", params={"token": token}, content=b"List-Unsubscribe=One-Click"
    )
    assert response.status_code == 200


async def test_unsubscribe_link_of_an_alert_stops_further_alerts(stack: Stack) -> None:
    category = unique("Physicians")
    candidate_id, email = await sign_up(stack, interests=[category])
    await stack.smtp.wait_for(email, 1)
    await post_job(stack, category=category)
    [_, alert] = await stack.smtp.wait_for(email, 2)
    await unsubscribe_from(stack, alert)
    assert await eventually(lambda: unsubscribed_here(stack, candidate_id))
    job_id = await post_job(stack, category=category)
    await job_reached_notifications(stack, job_id)
    await asyncio.sleep(1)
    assert len(stack.smtp.handler.to(email)) == 2


async def test_a_stranger_signing_up_an_unsubscribed_member_brings_no_alert_until_they_confirm(
    stack: Stack,
) -> None:
    category = unique("Therapy")
    candidate_id, email = await sign_up(stack, interests=[category])
    [welcome] = await stack.smtp.wait_for(email, 1)
    await unsubscribe_from(stack, welcome)
    assert await eventually(lambda: unsubscribed_here(stack, candidate_id))
    stranger = {"email": email.upper(), "first_name": "Mallory", "last_name": "Stranger",
                "interests": [category], "alert_frequency": "instant", "consent": True}  # fmt: skip
    response = await stack.signup.post("/v1/signups", json=stranger)
    assert (response.status_code, response.json()["status"]) == (200, "pending")
    [_, changes] = await stack.smtp.wait_for(email, 2)
    job_id = await post_job(stack, category=category)
    await job_reached_notifications(stack, job_id)
    await asyncio.sleep(1)  # time for an alert, if one were coming
    assert len(stack.smtp.handler.to(email)) == 2
    await confirm(stack, changes)
    await post_job(stack, category=category)
    *_, alert = await stack.smtp.wait_for(email, 3, timeout=30)
    assert alert["Subject"].startswith("New job")


async def test_daily_subscriber_gets_no_instant_alert(stack: Stack) -> None:
    category = unique("Research")
    _, email = await sign_up(stack, interests=[category], alert_frequency="daily")
    await stack.smtp.wait_for(email, 1)
    job_id = await post_job(stack, category=category)
    await job_reached_notifications(stack, job_id)
    items = await settled(stack, email)
    assert [item["kind"] for item in items] == ["welcome"]


async def test_same_events_delivered_twice_send_no_second_email(stack: Stack) -> None:
    candidate_id = uuid.uuid4()
    email = f"{unique('replayed')}@example.org"
    event = new_event(
        CandidateSignedUp(
            candidate_id=candidate_id,
            email=email,
            first_name="Replay",
            last_name="Test",
            interests=[unique("None")],
            signed_up_at=datetime.now(UTC),
        ),
        producer="test",
    )
    again_with_new_id = new_event(event.data, producer="test")
    async with raw_producer() as producer:
        for message in (event, event, again_with_new_id):
            await producer.send_and_wait(
                CANDIDATES_TOPIC, message.to_bytes(), key=str(candidate_id).encode()
            )
    await stack.smtp.wait_for(email, 1)
    await settled(stack, email)
    await asyncio.sleep(1)
    assert len(stack.smtp.handler.to(email)) == 1


async def test_erased_candidate_leaves_no_address_in_the_delivery_log(stack: Stack) -> None:
    candidate_id, email = await sign_up(stack)
    await settled(stack, email)
    response = await stack.signup.delete(f"/v1/candidates/{candidate_id}", headers=ADMIN_HEADERS)
    assert response.status_code == 204
    assert await eventually(
        lambda: notifications_knows(stack, "erased_candidates", "candidate_id", candidate_id)
    )
    assert await deliveries(stack, email) == []
    connection = await asyncpg.connect(stack.notifications_database)
    try:
        row = await connection.fetchrow(
            "SELECT to_address, subject, body_text FROM deliveries WHERE candidate_id = $1",
            uuid.UUID(candidate_id),
        )
        subscriber = await connection.fetchval(
            "SELECT true FROM subscribers WHERE candidate_id = $1", uuid.UUID(candidate_id)
        )
    finally:
        await connection.close()
    assert row is not None
    assert tuple(row) == (None, None, None)
    assert subscriber is None


async def test_deliveries_need_the_admin_token(stack: Stack) -> None:
    response = await stack.notifications.get("/v1/deliveries", params={"email": "a@b.org"})
    assert response.status_code == 401


async def test_deliveries_without_email_is_422(stack: Stack) -> None:
    response = await stack.notifications.get("/v1/deliveries", headers=ADMIN_HEADERS)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "email"]


# --- digests -------------------------------------------------------------------------------------

DAY = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # a Tuesday, after the 08:00 send hour


async def run_digests(stack: Stack, now: datetime) -> None:
    await stack.notifications_runtime.digest_scheduler.run_once(now=now)
    stack.notifications_runtime.delivery_worker.wake()


async def test_daily_digest_lists_new_matching_jobs_with_reasons(stack: Stack) -> None:
    category = unique("Environmental Services")
    _, email = await sign_up(
        stack, interests=[category], locations=["Durham"], alert_frequency="daily"
    )
    await stack.smtp.wait_for(email, 1)
    jobs = [await post_job(stack, category=category, title=f"Technician {n}") for n in range(2)]
    for job_id in jobs:
        await job_reached_notifications(stack, job_id)
    await run_digests(stack, DAY)
    [_, digest] = await stack.smtp.wait_for(email, 2)
    assert digest["Subject"] == "Your daily job digest: 2 new jobs for you"
    body = text_of(digest)
    assert all(f"/jobs/{job_id}" in body for job_id in jobs)
    assert f"{category} · Durham, NC" in body
    assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


async def test_digest_is_not_sent_twice_in_a_period_nor_when_nothing_is_new(stack: Stack) -> None:
    category = unique("Food")
    _, email = await sign_up(stack, interests=[category], alert_frequency="weekly")
    await stack.smtp.wait_for(email, 1)
    job_id = await post_job(stack, category=category)
    await job_reached_notifications(stack, job_id)
    await run_digests(stack, DAY)
    await stack.smtp.wait_for(email, 2)
    await run_digests(stack, DAY + timedelta(hours=3))  # same week, nothing new
    await run_digests(stack, DAY + timedelta(days=7))  # next week, still nothing new
    await settled(stack, email)
    await asyncio.sleep(1)
    assert len(stack.smtp.handler.to(email)) == 2


async def test_next_digest_has_only_jobs_not_sent_before(stack: Stack) -> None:
    category = unique("Behavioral Health")
    _, email = await sign_up(stack, interests=[category], alert_frequency="daily")
    await stack.smtp.wait_for(email, 1)
    first = await post_job(stack, category=category, title="Social Worker")
    await job_reached_notifications(stack, first)
    await run_digests(stack, DAY)
    await stack.smtp.wait_for(email, 2)
    second = await post_job(stack, category=category, title="Psychiatric Nurse")
    await job_reached_notifications(stack, second)
    await run_digests(stack, DAY + timedelta(days=1))
    [_, _, digest] = await stack.smtp.wait_for(email, 3)
    body = text_of(digest)
    assert f"/jobs/{second}" in body
    assert f"/jobs/{first}" not in body


async def test_digest_lists_at_most_ten_jobs(stack: Stack) -> None:
    category = unique("Administrative")
    _, email = await sign_up(stack, interests=[category], alert_frequency="daily")
    await stack.smtp.wait_for(email, 1)
    jobs = [await post_job(stack, category=category) for _ in range(12)]
    await job_reached_notifications(stack, jobs[-1])
    await eventually(lambda: all_known(stack, jobs))
    await run_digests(stack, DAY)
    [_, digest] = await stack.smtp.wait_for(email, 2)
    assert text_of(digest).count("/jobs/") == 10


async def test_two_schedulers_at_once_record_one_digest(stack: Stack) -> None:
    category = unique("Pharmacy")
    _, email = await sign_up(stack, interests=[category], alert_frequency="daily")
    await stack.smtp.wait_for(email, 1)
    job_id = await post_job(stack, category=category)
    await job_reached_notifications(stack, job_id)
    scheduler = stack.notifications_runtime.digest_scheduler
    await asyncio.gather(*(scheduler.run_once(now=DAY + timedelta(days=3)) for _ in range(4)))
    stack.notifications_runtime.delivery_worker.wake()
    items = await settled(stack, email)
    assert [item["kind"] for item in items] == ["welcome", "digest"]


async def test_erasure_also_erases_the_candidates_recently_viewed_jobs(stack: Stack) -> None:
    visitor = unique("visitor")
    candidate_id, _ = await sign_up(stack, visitor_id=visitor)
    job_id = await post_job(stack)
    response = await stack.jobs.post(
        "/v1/job-views", json={"visitor_id": visitor, "job_id": job_id}
    )
    assert response.status_code == 202

    async def viewed() -> list[Any]:
        page = await stack.jobs.get(f"/v1/visitors/{visitor}/recently-viewed")
        items: list[Any] = page.json()["items"]
        return items

    assert await eventually(viewed)
    await stack.signup.delete(f"/v1/candidates/{candidate_id}", headers=ADMIN_HEADERS)

    async def forgotten() -> bool:
        return await viewed() == []

    assert await eventually(forgotten, timeout=20)
