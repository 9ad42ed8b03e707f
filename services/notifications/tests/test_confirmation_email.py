"""The double opt-in confirmation email, as it goes on the wire (unit)."""

import email
import email.policy
import re
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from urllib.parse import parse_qs, urlparse

from talent_notifications.emails import Emails
from talent_notifications.settings import NotificationsSettings
from talent_shared.tokens import TokenPurpose, read_token

SECRET = "unit-secret"
SETTINGS = NotificationsSettings(
    public_base_url="https://careers.example.org/",
    mail_from="Careers <careers@hospital.example>",
    token_secret=SECRET,
)
CANDIDATE = uuid.uuid4()


def confirmation_on_the_wire(first_name: str = "Zoë") -> bytes:
    emails = Emails(SETTINGS)
    content = emails.confirmation(candidate_id=CANDIDATE, first_name=first_name)
    delivery = {
        "delivery_id": uuid.uuid4(),
        "candidate_id": CANDIDATE,
        "kind": "confirmation",
        "to_address": "ada@example.org",
        "subject": content.subject,
        "body_text": content.text,
        "body_html": content.html,
        "created_at": datetime.now(UTC),
    }
    return emails.message(delivery).data  # type: ignore[arg-type]


def parsed(wire: bytes) -> EmailMessage:
    message = email.message_from_bytes(wire, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def body(message: EmailMessage, kind: str) -> str:
    part = message.get_body(preferencelist=(kind,))
    assert part is not None
    return str(part.get_content())


def test_confirmation_carries_no_list_unsubscribe() -> None:
    head = confirmation_on_the_wire().split(b"\r\n\r\n", 1)[0]
    assert b"List-Unsubscribe" not in head


def test_confirmation_link_holds_a_confirm_token_for_the_candidate() -> None:
    message = parsed(confirmation_on_the_wire())
    [link] = re.findall(r"https://\S+/v1/signups/confirm\?\S+", body(message, "plain"))
    assert link.startswith("https://careers.example.org/v1/signups/confirm?token=")
    [token] = parse_qs(urlparse(link).query)["token"]
    assert read_token(SECRET, TokenPurpose.CONFIRM, token) == CANDIDATE


def test_confirmation_html_has_the_same_link_and_no_manage_link() -> None:
    message = parsed(confirmation_on_the_wire())
    html = body(message, "html")
    [link] = re.findall(r'href="(https://[^"]+/v1/signups/confirm\?[^"]+)"', html)
    assert link in body(message, "plain")
    assert "/preferences" not in html


def test_confirmation_subject_holds_no_text_the_visitor_typed() -> None:
    wire = confirmation_on_the_wire("Claim prize at evil.example")
    head = wire.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    assert parsed(wire)["Subject"] == "Confirm your Talent Network sign-up"
    assert b"evil.example" not in head
    assert max(len(line) for line in wire.split(b"\r\n")) <= 998


def test_confirmation_is_multipart_with_message_id() -> None:
    message = parsed(confirmation_on_the_wire())
    assert message.get_content_type() == "multipart/alternative"
    assert re.fullmatch(r"<[0-9a-f-]{36}@hospital\.example>", message["Message-ID"])
