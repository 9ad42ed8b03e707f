"""Reading bounces and complaints (unit): the reports of common providers, and what is ignored."""

import uuid

import pytest

from services.notifications.tests.feedback_reports import BOUNCE_ADDRESS, DOMAIN, report
from talent_notifications.feedback import Feedback, read_feedback, verp_address

RECIPIENT = "ada@example.net"


def read(name: str, delivery_id: uuid.UUID) -> Feedback | None:
    raw = report(name, delivery_id, RECIPIENT)
    return read_feedback(raw, bounce_address=BOUNCE_ADDRESS, message_domain=DOMAIN)


@pytest.mark.parametrize(
    ("name", "status"),
    [("dsn-gmail-address-not-found.eml", "5.1.1"), ("dsn-outlook-mailbox-full.eml", "5.2.2")],
)
def test_a_permanent_failure_is_a_bounce_of_its_delivery(name: str, status: str) -> None:
    delivery_id = uuid.uuid4()
    feedback = read(name, delivery_id)
    assert feedback is not None
    assert (feedback.kind, feedback.delivery_id) == ("bounce", delivery_id)
    assert feedback.reason.startswith(status)


def test_a_delay_is_no_bounce() -> None:
    assert read("dsn-postfix-delayed.eml", uuid.uuid4()) is None


@pytest.mark.parametrize("name", ["arf-yahoo-abuse.eml", "arf-aol-headers-only.eml"])
def test_a_feedback_report_is_a_complaint_about_its_delivery(name: str) -> None:
    delivery_id = uuid.uuid4()
    feedback = read(name, delivery_id)
    assert feedback is not None
    assert (feedback.kind, feedback.delivery_id) == ("complaint", delivery_id)
    assert feedback.reason == "feedback-type abuse"


def test_a_report_about_someone_elses_mail_is_ignored() -> None:
    raw = report("dsn-outlook-mailbox-full.eml", uuid.uuid4(), RECIPIENT)
    theirs = read_feedback(raw, bounce_address="returns@other.example", message_domain="x.example")
    assert theirs is None


def test_an_ordinary_email_is_no_report() -> None:
    raw = b"From: a@example.net\r\nTo: bounces@careers.example.org\r\nSubject: hi\r\n\r\nHello\r\n"
    assert read_feedback(raw, bounce_address=BOUNCE_ADDRESS, message_domain=DOMAIN) is None


def test_the_envelope_sender_names_its_delivery() -> None:
    delivery_id = uuid.UUID(int=7)
    assert verp_address(BOUNCE_ADDRESS, delivery_id) == f"bounces+{delivery_id}@careers.example.org"
