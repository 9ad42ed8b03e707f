"""How each header is written on the wire, serialised as aiosmtplib does (unit)."""

import email
import email.policy
import re
from email.header import decode_header, make_header
from email.headerregistry import Address
from email.message import EmailMessage

import pytest
from aiosmtplib.email import flatten_message

from talent_notifications.headers import (
    EMAIL_POLICY,
    CachedHeaderRegistry,
    HeaderTooLongError,
    VerbatimHeader,
)

ENCODED_WORD = re.compile(rb"=\?utf-8\?[bq]\?[!->@-~]*\?=", re.IGNORECASE)


def wire(**headers: str | Address) -> bytes:
    message = EmailMessage(policy=EMAIL_POLICY)
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content("body")
    return flatten_message(message)


def head(raw: bytes) -> bytes:
    return raw.split(b"\r\n\r\n", 1)[0]


def field(raw: bytes, name: str) -> bytes:
    [found] = [f for f in re.split(rb"\r\n(?![ \t])", head(raw)) if f.startswith(name.encode())]
    return found


def read_back(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def assert_well_formed(raw: bytes) -> None:
    assert head(raw).isascii()
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    words = ENCODED_WORD.findall(head(raw))
    assert all(len(word) <= 75 for word in words)
    assert b"=?" not in ENCODED_WORD.sub(b"", head(raw))  # none malformed


LONG_LINK = "https://careers.example.org/" + "a" * 300 + "/v1/unsubscribe?token=abc.def"


def test_structured_header_keeps_a_word_longer_than_a_line_unencoded() -> None:
    raw = wire(List_Unsubscribe=f"<{LONG_LINK}>, <mailto:u@example.org>")
    assert field(raw, "List-Unsubscribe") == (
        f"List-Unsubscribe: <{LONG_LINK}>,\r\n <mailto:u@example.org>".encode()
    )


def test_structured_header_that_fits_stays_on_one_line() -> None:
    raw = wire(List_Unsubscribe="<https://a.example/u>, <mailto:u@a.example>")
    assert field(raw, "List-Unsubscribe") == (
        b"List-Unsubscribe: <https://a.example/u>, <mailto:u@a.example>"
    )


@pytest.mark.parametrize("value", ["<https://café.example/u>", "<https://a.example/u>\r\nBcc: x"])
def test_structured_header_refuses_what_it_could_only_send_encoded(value: str) -> None:
    with pytest.raises(ValueError, match=r"printable ASCII|linefeed"):
        wire(List_Unsubscribe=value)


def test_structured_header_with_a_word_over_998_octets_is_refused() -> None:
    with pytest.raises(HeaderTooLongError):
        wire(List_Unsubscribe=f"<https://a.example/{'a' * 1000}>")


def test_ascii_subject_is_folded_at_its_spaces_and_not_encoded() -> None:
    subject = " ".join(["Registered Nurse, Intensive Care Unit"] * 4)
    raw = wire(Subject=subject)
    assert b"=?" not in field(raw, "Subject")
    assert re.sub(rb"\r\n(?= )", b"", field(raw, "Subject")) == f"Subject: {subject}".encode()


@pytest.mark.parametrize(
    "subject",
    [
        "Welcome to our Talent Network, Zoë",
        "Welcome to our Talent Network, Zoë-Åsa Ñúñez Łukasz Dvořák Schönberg Çelik Øre",
        "New job for you: " + "重症监护室注册护士夜班" * 4,
        "New job for you: Infirmière  de  nuit (two spaces) 🏥",
        "New job for you: " + "x" * 1200,
        "Zoë",
    ],
)
def test_subject_is_sent_well_formed_and_reads_back_exactly(subject: str) -> None:
    raw = wire(Subject=subject)
    assert_well_formed(raw)
    assert read_back(raw)["Subject"] == subject


def test_subject_that_looks_encoded_is_encoded_itself() -> None:
    subject = "New job for you: =?utf-8?q?looks_encoded?="
    value = field(wire(Subject=subject), "Subject").decode().removeprefix("Subject: ")
    assert "looks_encoded" not in value
    assert str(make_header(decode_header(value.replace("\r\n", "")))) == subject


@pytest.mark.parametrize(
    "name",
    [
        "Talent Network",
        "Smith, Ann (Careers)",
        'Ann "the recruiter" Smith',
        "Réseau Talents — Hôpital Universitaire de Genève",
        "Réseau Talents Hôpital Universitaire de la Région Île-de-France Sud-Est",
        "=?utf-8?q?not_encoded?= Careers",
    ],
)
def test_display_name_is_sent_well_formed_and_reads_back_exactly(name: str) -> None:
    raw = wire(From=Address(display_name=name, addr_spec="talent@careers.example.org"))
    assert_well_formed(raw)
    [sender] = read_back(raw)["From"].addresses
    assert (sender.display_name, sender.addr_spec) == (name, "talent@careers.example.org")


def test_address_is_never_encoded() -> None:
    address = "talent-network." + "x" * 60 + "@careers.example.org"
    raw = wire(From=Address(display_name="Zoë", addr_spec=address), To=address)
    assert field(raw, "From").endswith(f" <{address}>".encode())
    assert field(raw, "To") == f"To: {address}".encode()


def test_header_registry_makes_each_header_class_once() -> None:
    registry = CachedHeaderRegistry()
    assert registry["Subject"] is registry["subject"]


def test_header_registry_remapping_a_name_changes_its_class() -> None:
    registry = CachedHeaderRegistry()
    registry["subject"]
    registry.map_to_type("subject", VerbatimHeader)
    assert issubclass(registry["subject"], VerbatimHeader)
