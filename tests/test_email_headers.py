"""Every kind of email as the SMTP server received it, byte for byte: structured headers never
encoded, a non-ASCII Subject and sender name encoded correctly, no line over 998 octets, and
every link PUBLIC_BASE_URL + a path the public origin serves. PUBLIC_BASE_URL is long on purpose:
its links do not fit on a 78-character line."""

import email
import email.policy
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from urllib.parse import parse_qs, urlsplit

import pytest

from deploy.gateway.routes import API_ROUTES, PAGES, RENDERED_PATHS, RENDERED_PREFIXES
from talent_shared.tokens import TokenPurpose, read_token
from tests.support.fixtures import Stack, start_stack
from tests.support.flows import job_reached_notifications, post_job, sign_up, unique

pytestmark = pytest.mark.integration

LONG_BASE = "https://careers.example.org/" + "/".join(["talent-network-careers"] * 14)
SENDER_NAME = "Réseau Talents — Hôpital Universitaire de Genève"
SENDER_ADDRESS = "talent-network@careers.example.org"
FIRST_NAME = "Zoë-Åsa"
JOB_TITLE = "Infirmière de réanimation (nuits) — Soins intensifs"
KINDS = ("welcome", "job_alert", "digest")
DIGEST_DAY = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # after the 08:00 send hour
ENCODED_WORD = re.compile(rb"=\?utf-8\?[bq]\?[!->@-~]*\?=", re.IGNORECASE)


@dataclass(frozen=True)
class Received:
    candidate_id: uuid.UUID
    raw: bytes

    @property
    def head(self) -> bytes:
        return self.raw.split(b"\r\n\r\n", 1)[0]

    def header(self, name: str) -> bytes:
        """One header as it was sent: its name, its value and its folds."""
        [found] = [field for field in fields(self.head) if field.split(b":", 1)[0] == name.encode()]
        return found

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


def fields(head: bytes) -> list[bytes]:
    """The header fields of a raw head, each with its folds (a CRLF followed by whitespace)."""
    return re.split(rb"\r\n(?![ \t])", head)


@pytest.fixture(scope="module")
async def stack(infrastructure: None) -> AsyncIterator[Stack]:
    async with start_stack(
        public_base_url=LONG_BASE, mail_from=f"{SENDER_NAME} <{SENDER_ADDRESS}>"
    ) as running_stack:
        yield running_stack


@pytest.fixture(scope="module")
async def received(stack: Stack) -> dict[str, Received]:
    """One email of each kind: a welcome and an alert to an instant subscriber, a digest to a
    daily one."""
    category = unique("Soins")
    instant_id, instant = await sign_up(stack, first_name=FIRST_NAME, interests=[category])
    daily_id, daily = await sign_up(
        stack, first_name=FIRST_NAME, interests=[category], alert_frequency="daily"
    )
    for address in (instant, daily):
        await stack.smtp.wait_for(address, 1)
    job_id = await post_job(stack, category=category, title=JOB_TITLE)
    await job_reached_notifications(stack, job_id)
    await stack.notifications_runtime.digest_scheduler.run_once(now=DIGEST_DAY)
    stack.notifications_runtime.delivery_worker.wake()
    for address in (instant, daily):
        await stack.smtp.wait_for(address, 2)
    welcome, alert = stack.smtp.handler.raw_to(instant)
    _, digest = stack.smtp.handler.raw_to(daily)
    return {
        "welcome": Received(uuid.UUID(instant_id), welcome),
        "job_alert": Received(uuid.UUID(instant_id), alert),
        "digest": Received(uuid.UUID(daily_id), digest),
    }


def secret(stack: Stack) -> str:
    return stack.notifications_runtime.settings.token_secret.get_secret_value()


def token_of(url: str) -> str:
    [token] = parse_qs(urlsplit(url).query)["token"]
    return token


# --- List-Unsubscribe and List-Unsubscribe-Post ----------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_list_unsubscribe_is_an_https_link_and_a_mailto_never_encoded(
    received: dict[str, Received], kind: str
) -> None:
    header = received[kind].header("List-Unsubscribe")
    assert b"=?" not in header
    unfolded = re.sub(rb"\r\n(?=[ \t])", b"", header)
    assert re.fullmatch(
        rb"List-Unsubscribe: <"
        + re.escape(LONG_BASE.encode())
        + rb"/v1/unsubscribe\?token=[\w.-]+>, "
        rb"<mailto:unsubscribe@careers\.example\.org\?subject=unsubscribe%20[\w.-]+>",
        unfolded,
    )


@pytest.mark.parametrize("kind", KINDS)
async def test_list_unsubscribe_is_folded_only_between_its_links(
    received: dict[str, Received], kind: str
) -> None:
    lines = received[kind].header("List-Unsubscribe").split(b"\r\n")
    assert len(lines) == 2  # the https link alone is longer than a line
    assert re.fullmatch(rb"List-Unsubscribe: <https://[^\s<>]+>,", lines[0])
    assert re.fullmatch(rb" <mailto:[^\s<>]+>", lines[1])


@pytest.mark.parametrize("kind", KINDS)
async def test_list_unsubscribe_post_is_one_click(received: dict[str, Received], kind: str) -> None:
    header = received[kind].header("List-Unsubscribe-Post")
    assert header == b"List-Unsubscribe-Post: List-Unsubscribe=One-Click"


@pytest.mark.parametrize("kind", KINDS)
async def test_list_unsubscribe_link_carries_the_candidates_unsubscribe_token(
    stack: Stack, received: dict[str, Received], kind: str
) -> None:
    header = received[kind].message["List-Unsubscribe"]
    [link] = re.findall(r"<(https://[^>]+)>", header)
    token = token_of(link)
    assert read_token(secret(stack), TokenPurpose.UNSUBSCRIBE, token) == received[kind].candidate_id


# --- every header ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_no_line_is_longer_than_998_octets(received: dict[str, Received], kind: str) -> None:
    lines = received[kind].raw.split(b"\r\n")
    assert max(len(line) for line in lines) <= 998


@pytest.mark.parametrize("kind", KINDS)
async def test_headers_are_ascii(received: dict[str, Received], kind: str) -> None:
    assert received[kind].head.isascii()


@pytest.mark.parametrize("kind", KINDS)
async def test_only_subject_and_from_carry_encoded_words(
    received: dict[str, Received], kind: str
) -> None:
    encoded = [field.split(b":", 1)[0] for field in fields(received[kind].head) if b"=?" in field]
    assert set(encoded) <= {b"Subject", b"From"}


@pytest.mark.parametrize("kind", KINDS)
async def test_encoded_words_are_at_most_75_octets(
    received: dict[str, Received], kind: str
) -> None:
    words = ENCODED_WORD.findall(received[kind].head)
    assert words  # the sender's name at least
    assert max(len(word) for word in words) <= 75
    assert received[kind].head.count(b"=?") == len(words)  # none malformed


@pytest.mark.parametrize("kind", KINDS)
async def test_message_id_is_sent_as_it_is(received: dict[str, Received], kind: str) -> None:
    header = received[kind].header("Message-ID")
    assert re.fullmatch(rb"Message-ID: <[0-9a-f-]{36}@careers\.example\.org>", header)


# --- Subject and From --------------------------------------------------------------------------


async def test_welcome_subject_holds_no_text_the_visitor_typed(
    received: dict[str, Received],
) -> None:
    welcome = received["welcome"]
    assert not ENCODED_WORD.search(welcome.header("Subject"))
    assert welcome.message["Subject"] == "Welcome to our Talent Network"


async def test_alert_subject_with_a_non_ascii_job_title_decodes_exactly(
    received: dict[str, Received],
) -> None:
    assert received["job_alert"].message["Subject"] == f"New job for you: {JOB_TITLE}"


async def test_ascii_subject_is_sent_unencoded(received: dict[str, Received]) -> None:
    header = received["digest"].header("Subject")
    assert header == b"Subject: Your daily job digest: 1 new job for you"


@pytest.mark.parametrize("kind", KINDS)
async def test_sender_name_is_encoded_and_its_address_is_not(
    received: dict[str, Received], kind: str
) -> None:
    header = received[kind].header("From")
    assert header.endswith(f" <{SENDER_ADDRESS}>".encode())
    [sender] = received[kind].message["From"].addresses
    assert sender.display_name == SENDER_NAME
    assert sender.addr_spec == SENDER_ADDRESS


# --- links -------------------------------------------------------------------------------------


def links_of(message: EmailMessage) -> list[str]:
    """Every link of the text part and every href of the HTML part."""
    links: list[str] = []
    for subtype, pattern in (("plain", r"https?://[^\s<>\"]+"), ("html", r'href="([^"]+)"')):
        part = message.get_body((subtype,))
        assert isinstance(part, EmailMessage)
        links += re.findall(pattern, part.get_content())
    return links


def served_by_the_public_origin(path: str) -> bool:
    """The gateway's route table (deploy/gateway/routes.py) has a page, a rendered page or an
    API route for it."""
    for page in PAGES:
        if re.fullmatch(page.path, path) if page.pattern else page.path == path:
            return True
    if path in RENDERED_PATHS:
        return True
    prefixes = [*API_ROUTES, *RENDERED_PREFIXES]
    return any(path == prefix or path.startswith(f"{prefix}/") for prefix in prefixes)


@pytest.mark.parametrize("kind", KINDS)
async def test_every_link_is_the_public_base_url_and_a_path_the_site_serves(
    received: dict[str, Received], kind: str
) -> None:
    links = links_of(received[kind].message)
    assert links
    for link in links:
        assert link.startswith(f"{LONG_BASE}/"), link
        path = urlsplit(link).path.removeprefix(urlsplit(LONG_BASE).path)
        assert served_by_the_public_origin(path), link


@pytest.mark.parametrize("kind", KINDS)
async def test_manage_link_opens_the_preference_center_with_a_manage_token(
    stack: Stack, received: dict[str, Received], kind: str
) -> None:
    links = links_of(received[kind].message)
    manage = [link for link in links if link.startswith(f"{LONG_BASE}/preferences?token=")]
    assert len(manage) == 2  # text and HTML
    for link in manage:
        candidate = read_token(secret(stack), TokenPurpose.MANAGE, token_of(link))
        assert candidate == received[kind].candidate_id


@pytest.mark.parametrize("kind", KINDS)
async def test_unsubscribe_link_of_the_body_shows_the_confirm_page(
    stack: Stack, received: dict[str, Received], kind: str
) -> None:
    links = links_of(received[kind].message)
    [link, *_] = [link for link in links if link.startswith(f"{LONG_BASE}/v1/unsubscribe?")]
    response = await stack.signup.get("/v1/unsubscribe", params={"token": token_of(link)})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")


async def test_alert_links_the_job_page(received: dict[str, Received]) -> None:
    links = links_of(received["job_alert"].message)
    job_links = [
        link for link in links if re.fullmatch(rf"{re.escape(LONG_BASE)}/jobs/[\w-]+", link)
    ]
    assert len(job_links) == 2  # text and HTML


async def test_welcome_links_the_jobs_list(received: dict[str, Received]) -> None:
    assert links_of(received["welcome"].message).count(f"{LONG_BASE}/jobs") == 2
