"""Email content and headers, rendered without sending (unit)."""

import email
import email.policy
import re
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import pytest

from talent_notifications import mime
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


def parsed(wire: bytes) -> EmailMessage:
    message = email.message_from_bytes(wire, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


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


def test_manage_link_points_at_the_preference_center_with_a_manage_token() -> None:
    url = Emails(SETTINGS).manage_url(CANDIDATE)
    assert url.startswith("https://careers.example.org/preferences?token=")
    token = url.split("token=", 1)[1]
    assert read_token("unit-secret", TokenPurpose.MANAGE, token) == CANDIDATE


def test_welcome_links_to_the_jobs_list_and_the_preference_center() -> None:
    content = Emails(SETTINGS).welcome(candidate_id=CANDIDATE, first_name="Ada", frequency="daily")
    for body in (content.text, content.html):
        assert "https://careers.example.org/jobs" in body
        assert "https://careers.example.org/preferences?token=" in body


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
    message = parsed(Emails(SETTINGS).message(delivery("job_alert")).data)  # type: ignore[arg-type]
    header = message["List-Unsubscribe"]
    assert "<https://careers.example.org/v1/unsubscribe?token=" in header
    assert "<mailto:unsubscribe@hospital.example?subject=unsubscribe%20" in header
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_welcome_message_has_list_unsubscribe_and_one_click_headers() -> None:
    message = parsed(Emails(SETTINGS).message(delivery("welcome")).data)  # type: ignore[arg-type]
    assert message["List-Unsubscribe"].startswith("<https://careers.example.org/v1/unsubscribe?")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_message_id_is_derived_from_the_delivery() -> None:
    row = delivery("digest")
    message = parsed(Emails(SETTINGS).message(row).data)  # type: ignore[arg-type]
    assert message["Message-ID"] == f"<{row['delivery_id']}@hospital.example>"


def test_message_is_multipart_text_and_html_from_mail_from() -> None:
    message = parsed(Emails(SETTINGS).message(delivery("welcome")).data)  # type: ignore[arg-type]
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == [
        "text/plain",
        "text/html",
    ]
    assert message["From"] == "Careers <careers@hospital.example>"


# --- the bytes aiosmtplib puts on the wire --------------------------------------------------------

LONG_BASE = "https://careers.example.org/" + "talent-network/" * 30
LONG_NAME = "Réseau Talents Hôpital Universitaire de la Région Île-de-France"
LONG_SETTINGS = NotificationsSettings(
    public_base_url=LONG_BASE,
    mail_from=f"{LONG_NAME} <talent@hospital.example>",
    token_secret="unit-secret",
)
LONG_SUBJECT = "Welcome to our Talent Network, Zoë-Åsa Ñúñez Łukasz Dvořák Schönberg Çelik Øre"
ENCODED_WORD = re.compile(rb"=\?[^?\s]+\?[bqBQ]\?[^?\s]*\?=")


def on_the_wire(kind: str, **fields: Any) -> bytes:
    return Emails(LONG_SETTINGS).message(delivery(kind, subject=LONG_SUBJECT, **fields)).data  # type: ignore[arg-type]


def raw_header(wire: bytes, name: str) -> bytes:
    """The header as sent, its folds kept."""
    head = wire.split(b"\r\n\r\n", 1)[0]
    [match] = re.findall(rb"^" + name.encode() + rb": .*?(?=\r\n(?! ))", head, re.M | re.S)
    return bytes(match)


@pytest.mark.parametrize("kind", ["welcome", "job_alert", "digest"])
def test_list_unsubscribe_with_a_long_link_is_sent_unencoded(kind: str) -> None:
    header = raw_header(on_the_wire(kind), "List-Unsubscribe")
    assert b"=?" not in header
    assert re.fullmatch(
        rb"List-Unsubscribe: <"
        + re.escape(LONG_BASE.encode())
        + rb"v1/unsubscribe\?token=[\w.-]+>,"
        rb"\r\n <mailto:unsubscribe@hospital\.example\?subject=unsubscribe%20[\w.-]+>",
        header,
    )


def test_one_click_header_is_sent_verbatim() -> None:
    assert raw_header(on_the_wire("job_alert"), "List-Unsubscribe-Post") == (
        b"List-Unsubscribe-Post: List-Unsubscribe=One-Click"
    )


@pytest.mark.parametrize("kind", ["welcome", "job_alert", "digest"])
def test_no_line_of_the_message_exceeds_998_octets(kind: str) -> None:
    wire = on_the_wire(
        kind, body_text="Zoë " + LONG_BASE * 4, body_html=f'<a href="{LONG_BASE}">x</a>'
    )
    assert max(len(line) for line in wire.split(b"\r\n")) <= 998


def test_headers_are_ascii_on_the_wire() -> None:
    head = on_the_wire("welcome").split(b"\r\n\r\n", 1)[0]
    assert head.isascii()


def test_non_ascii_subject_is_encoded_in_words_of_at_most_75_octets() -> None:
    wire = on_the_wire("welcome")
    words = ENCODED_WORD.findall(raw_header(wire, "Subject"))
    assert words
    assert max(len(word) for word in words) <= 75
    assert parsed(wire)["Subject"] == LONG_SUBJECT


def test_non_ascii_display_name_is_encoded_and_the_address_is_not() -> None:
    wire = on_the_wire("welcome")
    header = raw_header(wire, "From")
    assert b"<talent@hospital.example>" in header
    assert all(len(word) <= 75 for word in ENCODED_WORD.findall(header))
    sender = parsed(wire)["From"].addresses[0]
    assert sender.display_name == LONG_NAME
    assert sender.addr_spec == "talent@hospital.example"


def test_message_id_is_sent_unencoded() -> None:
    row = delivery("welcome")
    wire = Emails(SETTINGS).message(row).data  # type: ignore[arg-type]
    assert (
        raw_header(wire, "Message-ID")
        == f"Message-ID: <{row['delivery_id']}@hospital.example>".encode()
    )


def test_public_base_url_too_long_for_a_header_line_is_refused() -> None:
    settings = SETTINGS.model_copy(update={"public_base_url": "https://a.example/" + "p" * 900})
    with pytest.raises(ValueError, match="List-Unsubscribe"):
        Emails(settings)


@pytest.mark.parametrize(
    "base", ["careers.example.org", "https://careers.example.org/a b", "https://café.example"]
)
def test_public_base_url_that_cannot_be_a_link_is_refused(base: str) -> None:
    with pytest.raises(ValueError, match="PUBLIC_BASE_URL"):
        Emails(SETTINGS.model_copy(update={"public_base_url": base}))


# --- the body -------------------------------------------------------------------------------------

BODY_TEXT = "Bonjour Zoë,\n\nSee " + LONG_BASE + "jobs\n"
BODY_HTML = '<p>Bonjour Zoë, <a href="' + LONG_BASE + 'jobs">jobs</a> &amp; more</p>\n'


def part_of(message: EmailMessage, subtype: str) -> EmailMessage:
    part = message.get_body(preferencelist=(subtype,))
    assert isinstance(part, EmailMessage)
    return part


def text_of(message: EmailMessage, subtype: str) -> str:
    """The part's text with its line breaks as a mail client shows them (CRLF on the wire)."""
    return str(part_of(message, subtype).get_content()).replace("\r\n", "\n")


@pytest.mark.parametrize("subtype", ["plain", "html"])
def test_each_part_reads_back_exactly(subtype: str) -> None:
    message = parsed(on_the_wire("welcome", body_text=BODY_TEXT, body_html=BODY_HTML))
    expected = {"plain": BODY_TEXT, "html": BODY_HTML}[subtype]
    assert text_of(message, subtype) == expected


def test_a_part_with_accents_or_long_lines_is_quoted_printable() -> None:
    message = parsed(on_the_wire("welcome", body_text=BODY_TEXT, body_html=BODY_HTML))
    assert part_of(message, "plain")["Content-Transfer-Encoding"] == "quoted-printable"
    assert part_of(message, "html")["Content-Transfer-Encoding"] == "quoted-printable"


def test_a_short_ascii_part_is_sent_as_it_is() -> None:
    wire = on_the_wire("welcome", body_text="Hello Ada,\nwelcome.\n")
    assert b"Content-Transfer-Encoding: 7bit\r\n\r\nHello Ada,\r\nwelcome.\r\n" in wire


def test_the_whole_message_is_7bit() -> None:
    assert on_the_wire("welcome", body_text=BODY_TEXT, body_html=BODY_HTML).isascii()


def test_a_boundary_found_in_a_part_is_drawn_again(monkeypatch: pytest.MonkeyPatch) -> None:
    taken, fresh = uuid.UUID(int=1), uuid.UUID(int=2)
    draws = iter([taken, fresh])
    monkeypatch.setattr(mime, "uuid4", lambda: next(draws))
    wire = on_the_wire("welcome", body_text=f"--=_{taken.hex}\n")
    assert f'boundary="=_{fresh.hex}"'.encode() in wire
    assert text_of(parsed(wire), "plain") == f"--=_{taken.hex}\n"
