"""Emails people keep, end to end (the three services, the real broker, database and SMTP
server): every kind DKIM-signed and verified on the bytes received, a permanent refusal or a
bounce suppresses the address, a complaint suppresses it and unsubscribes the candidate, and a
change confirmed from the changes email lifts the suppression."""

import subprocess
import uuid
from base64 import b64encode
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import dkim
import pytest

from devsupport.services import ADMIN_HEADERS
from services.notifications.tests.feedback_reports import BOUNCE_ADDRESS, DOMAIN, report
from tests.support.fixtures import Stack, start_stack
from tests.support.flows import confirm, deliveries, post_job, settled, sign_up, unique
from tests.support.infra import eventually

pytestmark = pytest.mark.integration

SELECTOR = "talent2026"


@pytest.fixture(scope="module")
def dkim_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    """A fresh RSA key (openssl), and the TXT record a DNS zone would publish for it."""
    folder = tmp_path_factory.mktemp("dkim")
    key = folder / "private.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    public = subprocess.run(
        ["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    return key, b"v=DKIM1; k=rsa; p=" + b64encode(public)


@pytest.fixture(scope="module")
async def stack(infrastructure: None, dkim_key: tuple[Path, bytes]) -> AsyncIterator[Stack]:
    async with start_stack(
        signup_settings={"signup_double_opt_in": True},
        mail_from=f"Talent Network <talent-network@{DOMAIN}>",
        bounce_address=BOUNCE_ADDRESS,
        dkim_private_key_file=str(dkim_key[0]),
        dkim_domain=DOMAIN,
        dkim_selector=SELECTOR,
        digest_send_hour_utc=0,
        digest_check_seconds=0.5,
    ) as running:
        yield running


def verifies(raw: bytes, txt_record: bytes) -> bool:
    """dkimpy's own verification, with a DNS stub that serves the public key."""

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == f"{SELECTOR}._domainkey.{DOMAIN}.".encode()
        return txt_record

    return bool(dkim.verify(raw, dnsfunc=dns))


async def confirmed_member(stack: Stack, **fields: Any) -> tuple[str, str]:
    candidate_id, email = await sign_up(stack, **fields)
    [confirmation] = await stack.smtp.wait_for(email, 1)
    await confirm(stack, confirmation)
    await stack.smtp.wait_for(email, 2)  # the welcome
    return candidate_id, email


async def test_every_kind_of_email_is_dkim_signed_and_verifies(
    stack: Stack, dkim_key: tuple[Path, bytes]
) -> None:
    category = unique("Nursing")
    _, instant = await confirmed_member(stack, interests=[category])
    _, daily = await confirmed_member(stack, interests=[category], alert_frequency="daily")
    await post_job(stack, category=category)
    await stack.smtp.wait_for(instant, 3)  # the alert
    await stack.smtp.wait_for(daily, 3)  # the digest
    body = {"email": instant, "first_name": "Ada", "last_name": "Lovelace", "consent": True}
    same = {**body, "interests": [category], "alert_frequency": "instant"}
    await stack.signup.post("/v1/signups", json=same)  # nothing would change: already a member
    _, changing = await sign_up(stack)
    await stack.signup.post("/v1/signups", json={**body, "email": changing, "last_name": "B"})
    await stack.smtp.wait_for(instant, 4)
    await stack.smtp.wait_for(changing, 2)
    recipients = (instant, daily, changing)
    kinds = {item["kind"] for email in recipients for item in await settled(stack, email)}
    assert kinds == {
        "confirmation",
        "welcome",
        "job_alert",
        "digest",
        "already_member",
        "change_confirmation",
    }
    raw = [message for email in recipients for message in stack.smtp.handler.raw_to(email)]
    assert len(raw) == 9
    assert all(message.startswith(b"DKIM-Signature:") for message in raw)
    assert all(verifies(message, dkim_key[1]) for message in raw)


async def test_a_tampered_email_no_longer_verifies(
    stack: Stack, dkim_key: tuple[Path, bytes]
) -> None:
    _, email = await sign_up(stack)
    await stack.smtp.wait_for(email, 1)
    [raw] = stack.smtp.handler.raw_to(email)
    tampered = raw.replace(b"Confirm your Talent Network sign-up", b"Claim your prize now")
    assert tampered != raw
    assert verifies(raw, dkim_key[1])
    assert not verifies(tampered, dkim_key[1])


async def test_the_envelope_sender_names_the_delivery(stack: Stack) -> None:
    _, email = await sign_up(stack)
    await stack.smtp.wait_for(email, 1)
    [item] = await deliveries(stack, email)
    assert stack.smtp.handler.senders_to(email) == [f"bounces+{item['delivery_id']}@{DOMAIN}"]


async def alerts_to(stack: Stack, email: str, count: int) -> list[dict[str, Any]]:
    """The job alerts recorded for ``email``, once there are ``count`` and none is pending."""

    async def recorded() -> list[dict[str, Any]]:
        items = [i for i in await deliveries(stack, email) if i["kind"] == "job_alert"]
        done = len(items) >= count and all(i["status"] != "pending" for i in items)
        return items if done else []

    items: list[dict[str, Any]] = await eventually(recorded, timeout=30)
    return items


async def test_a_550_at_rcpt_suppresses_and_nothing_more_is_sent_there(stack: Stack) -> None:
    category = unique("Nursing")
    _, email = await confirmed_member(stack, interests=[category])
    stack.smtp.handler.refuse_recipients.add(email)  # the mailbox is gone from now on
    await post_job(stack, category=category)
    [refused] = await alerts_to(stack, email, 1)
    assert (refused["status"], refused["attempts"]) == ("failed", 1)
    await post_job(stack, category=category)
    first, second = await alerts_to(stack, email, 2)
    assert (first["status"], second["status"]) == ("failed", "suppressed")
    # The confirmation, the welcome and the refused alert: the next was never tried.
    assert stack.smtp.handler.recipients_tried.count(email) == 3


async def post_report(stack: Stack, raw: bytes) -> dict[str, Any]:
    response = await stack.notifications.post(
        "/v1/email-feedback",
        content=raw,
        headers={**ADMIN_HEADERS, "Content-Type": "message/rfc822"},
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_a_bounce_report_suppresses_the_address_and_the_next_email_is_not_sent(
    stack: Stack,
) -> None:
    category = unique("Nursing")
    _, email = await confirmed_member(stack, interests=[category])
    welcome = next(i for i in await deliveries(stack, email) if i["kind"] == "welcome")
    bounce = report("dsn-gmail-address-not-found.eml", uuid.UUID(welcome["delivery_id"]), email)
    answer = await post_report(stack, bounce)
    assert answer == {"kind": "bounce", "delivery_id": welcome["delivery_id"], "suppressed": True}
    await post_job(stack, category=category)
    [alert] = await alerts_to(stack, email, 1)
    assert alert["status"] == "suppressed"
    assert len(stack.smtp.handler.to(email)) == 2  # the confirmation and the welcome only


async def complain(stack: Stack, email: str) -> None:
    """The recipient marks our welcome as spam; the report comes through the API."""
    welcome = next(i for i in await deliveries(stack, email) if i["kind"] == "welcome")
    complaint = report("arf-yahoo-abuse.eml", uuid.UUID(welcome["delivery_id"]), email)
    answer = await post_report(stack, complaint)
    assert (answer["kind"], answer["suppressed"]) == ("complaint", True)


async def unsubscribed(stack: Stack, candidate_id: str) -> bool:
    async def status_is_unsubscribed() -> bool:
        response = await stack.signup.get(f"/v1/candidates/{candidate_id}", headers=ADMIN_HEADERS)
        return bool(response.json()["status"] == "unsubscribed")

    return bool(await eventually(status_is_unsubscribed, timeout=20))


async def test_a_complaint_unsubscribes_the_candidate_and_suppresses_the_address(
    stack: Stack,
) -> None:
    candidate_id, email = await confirmed_member(stack)
    await complain(stack, email)
    assert await unsubscribed(stack, candidate_id)


async def test_a_report_about_no_delivery_of_ours_changes_nothing(stack: Stack) -> None:
    delivery_id = uuid.uuid4()
    unknown = report("dsn-gmail-address-not-found.eml", delivery_id, "nobody@example.org")
    answer = await post_report(stack, unknown)
    assert answer == {"kind": "ignored", "delivery_id": str(delivery_id), "suppressed": False}


async def test_a_report_needs_the_admin_token_whatever_its_body(stack: Stack) -> None:
    response = await stack.notifications.post(
        "/v1/email-feedback", content=b"not a report", headers={"Content-Type": "message/rfc822"}
    )
    assert response.status_code == 401


async def test_a_report_sent_as_anything_but_a_message_is_415(stack: Stack) -> None:
    response = await stack.notifications.post(
        "/v1/email-feedback", content=b"{}", headers={**ADMIN_HEADERS, "Content-Type": "text/plain"}
    )
    assert response.status_code == 415


async def test_changes_confirmed_from_the_changes_email_lift_the_suppression(
    stack: Stack,
) -> None:
    category = unique("Nursing")
    candidate_id, email = await confirmed_member(stack, interests=[category])
    await complain(stack, email)
    assert await unsubscribed(stack, candidate_id)
    again = {"email": email, "first_name": "Ada", "last_name": "Again", "consent": True}
    await stack.signup.post("/v1/signups", json={**again, "interests": [category]})
    [changes] = [m for m in await stack.smtp.wait_for(email, 3) if "changes" in m["Subject"]]
    await confirm(stack, changes)
    await post_job(stack, category=category)
    messages = await stack.smtp.wait_for(email, 4, timeout=30)
    assert [m["Subject"].startswith("New job") for m in messages].count(True) == 1
