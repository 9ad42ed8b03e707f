"""Digest periods, retry backoff and SMTP error classification (unit)."""

from datetime import UTC, datetime

import aiosmtplib
import pytest

from talent_notifications.delivery import DeliveryWorker
from talent_notifications.digests import due_periods
from talent_notifications.settings import NotificationsSettings
from talent_notifications.smtp import PermanentSendError, classify

TUESDAY_9 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
MONDAY_7 = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
MONDAY_8 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def test_daily_and_weekly_digests_are_due_after_the_send_hour() -> None:
    assert due_periods(TUESDAY_9, send_hour=8) == {
        "daily": "daily:2026-12-01",
        "weekly": "weekly:2026-W49",
    }


def test_nothing_is_due_on_monday_before_the_send_hour() -> None:
    assert due_periods(MONDAY_7, send_hour=8) == {}


def test_weekly_digest_is_due_from_monday_at_the_send_hour() -> None:
    assert due_periods(MONDAY_8, send_hour=8)["weekly"] == "weekly:2026-W49"


def test_daily_digest_waits_for_the_send_hour() -> None:
    assert "daily" not in due_periods(TUESDAY_9.replace(hour=7), send_hour=8)


@pytest.mark.parametrize("attempts", range(1, 12))
def test_retry_delay_grows_exponentially_within_bounds(attempts: int) -> None:
    settings = NotificationsSettings(delivery_retry_base_seconds=2, delivery_retry_max_seconds=60)
    worker = DeliveryWorker(None, None, settings)  # type: ignore[arg-type]
    ceiling = min(60.0, 2.0 * 2 ** (attempts - 1))
    assert ceiling / 2 <= worker.retry_delay(attempts) <= ceiling


def test_5xx_reply_is_permanent() -> None:
    error = aiosmtplib.SMTPDataError(550, "No such user")
    assert isinstance(classify(error), PermanentSendError)


def test_4xx_reply_is_transient() -> None:
    error = aiosmtplib.SMTPDataError(451, "Try later")
    assert classify(error) is error


def test_refused_connection_is_transient() -> None:
    error = aiosmtplib.SMTPConnectError("refused")
    assert classify(error) is error


def test_all_recipients_refused_with_5xx_is_permanent() -> None:
    refused = [aiosmtplib.SMTPRecipientRefused(550, "unknown", "a@b.org")]
    assert isinstance(classify(aiosmtplib.SMTPRecipientsRefused(refused)), PermanentSendError)


def test_a_message_that_cannot_be_sent_at_all_is_permanent() -> None:
    assert isinstance(classify(ValueError("non-ASCII local part")), PermanentSendError)


def test_timeout_is_transient() -> None:
    error = aiosmtplib.SMTPReadTimeoutError("slow")
    assert classify(error) is error


def test_a_5xx_reply_is_a_refusal_of_the_address() -> None:
    error = classify(aiosmtplib.SMTPDataError(550, "No such user"))
    assert isinstance(error, PermanentSendError)
    assert error.refused


def test_a_message_that_cannot_be_sent_is_no_refusal_of_the_address() -> None:
    error = classify(ValueError("Header values may not contain linefeed"))
    assert isinstance(error, PermanentSendError)
    assert not error.refused
