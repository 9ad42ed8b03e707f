"""Email content and headers, rendered without sending (unit)."""

import uuid
from datetime import UTC, datetime
from typing import Any

from talent_notifications.emails import Emails, match_reason
from talent_notifications.settings import NotificationsSettings
from talent_shared.tokens import TokenPurpose, read_token

SETTINGS = NotificationsSettings(
    public_base_url="https://careers.example.org/",
    mail_from="Careers <careers@hospital.example>",
    token_secret="unit-secret",
)
CANDIDATE = uuid.uuid4()


def job(**fields: Any) -> dict[str, Any]:
    return {
        "job_id": uuid.uuid4(),
        "title": "ICU Nurse",
        "category": "Nursing",
        "location": "Durham, NC",
        "keyword": None,
        **fields,
    }


def delivery(kind: str, **fields: Any) -> dict[str, Any]:
    return {
        "delivery_id": uuid.uuid4(),
        "candidate_id": CANDIDATE,
        "kind": kind,
        "to_address": "ada@example.org",
        "subject": "Subject",
        "body_text": "text",
        "body_html": "<p>html</p>",
        "created_at": datetime.now(UTC),
        **fields,
    }


def test_reason_names_category_location_and_keyword() -> None:
    assert match_reason(job(keyword="ICU")) == "Nursing · Durham, NC · keyword: ICU"  # type: ignore[arg-type]


def test_reason_without_keyword_names_category_and_location() -> None:
    assert match_reason(job()) == "Nursing · Durham, NC"  # type: ignore[arg-type]


def test_job_links_use_the_public_base_url() -> None:
    emails = Emails(SETTINGS)
    listed = job()
    content = emails.job_list(candidate_id=CANDIDATE, first_name="Ada", jobs=[listed])  # type: ignore[list-item]
    assert f"https://careers.example.org/jobs/{listed['job_id']}" in content.text
    assert f"https://careers.example.org/jobs/{listed['job_id']}" in content.html


def test_unsubscribe_link_carries_a_valid_unsubscribe_token() -> None:
    url = Emails(SETTINGS).unsubscribe_url(CANDIDATE)
    assert url.startswith("https://careers.example.org/v1/unsubscribe?token=")
    token = url.split("token=", 1)[1]
    assert read_token("unit-secret", TokenPurpose.UNSUBSCRIBE, token) == CANDIDATE


def test_manage_link_points_at_the_preferences_endpoint() -> None:
    url = Emails(SETTINGS).manage_url(CANDIDATE)
    assert url.startswith(f"https://careers.example.org/v1/candidates/{CANDIDATE}/preferences?")


def test_html_escapes_job_titles() -> None:
    content = Emails(SETTINGS).job_list(
        candidate_id=CANDIDATE,
        first_name="Ada",
        jobs=[job(title="<script>x</script>")],  # type: ignore[list-item]
    )
    assert "<script>" not in content.html
    assert "&lt;script&gt;" in content.html


def test_alert_subject_names_a_single_job() -> None:
    content = Emails(SETTINGS).job_list(candidate_id=CANDIDATE, first_name="Ada", jobs=[job()])  # type: ignore[list-item]
    assert content.subject == "New job for you: ICU Nurse"


def test_alert_subject_counts_several_jobs() -> None:
    content = Emails(SETTINGS).job_list(
        candidate_id=CANDIDATE,
        first_name="Ada",
        jobs=[job(), job(), job()],  # type: ignore[list-item]
    )
    assert content.subject == "3 new jobs match your preferences"


def test_alert_message_has_list_unsubscribe_https_and_mailto() -> None:
    message = Emails(SETTINGS).message(delivery("job_alert"))  # type: ignore[arg-type]
    header = message["List-Unsubscribe"]
    assert "<https://careers.example.org/v1/unsubscribe?token=" in header
    assert "<mailto:unsubscribe@hospital.example?subject=unsubscribe%20" in header
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_welcome_message_has_no_list_unsubscribe_header() -> None:
    message = Emails(SETTINGS).message(delivery("welcome"))  # type: ignore[arg-type]
    assert "List-Unsubscribe" not in message


def test_message_id_is_derived_from_the_delivery() -> None:
    row = delivery("digest")
    message = Emails(SETTINGS).message(row)  # type: ignore[arg-type]
    assert message["Message-ID"] == f"<{row['delivery_id']}@hospital.example>"


def test_message_is_multipart_text_and_html_from_mail_from() -> None:
    message = Emails(SETTINGS).message(delivery("welcome"))  # type: ignore[arg-type]
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == [
        "text/plain",
        "text/html",
    ]
    assert message["From"] == "Careers <careers@hospital.example>"
