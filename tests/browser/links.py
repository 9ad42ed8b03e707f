"""Sign-ups through the gateway and the links of the emails they bring."""

import re
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from html.parser import HTMLParser

import httpx
from playwright.sync_api import Page, expect

from tests.browser.stack import CareersStack


@dataclass(frozen=True)
class SignedUp:
    email: str
    candidate_id: str


def sign_up(careers: CareersStack, **preferences: object) -> SignedUp:
    email = f"candidate-{uuid.uuid4().hex[:10]}@example.org"
    body = {"email": email, "first_name": "Grace", "last_name": "Hopper", "consent": True}
    response = httpx.post(f"{careers.url}/v1/signups", json={**body, **preferences})
    assert response.status_code == 201, response.text
    return SignedUp(email=email, candidate_id=response.json()["candidate_id"])


class _Hrefs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hrefs += [value for name, value in attrs if name == "href" and value]


def links_of(message: EmailMessage) -> set[str]:
    """Every http(s) link of the message: its text part, its HTML part's hrefs and the
    List-Unsubscribe header."""
    links: set[str] = set()
    text = message.get_body(("plain",))
    if text is not None:
        links.update(re.findall(r"https?://[^\s<>\"]+", text.get_content()))
    html = message.get_body(("html",))
    if html is not None:
        parser = _Hrefs()
        parser.feed(html.get_content())
        links.update(href for href in parser.hrefs if href.startswith("http"))
    links.update(re.findall(r"<(https?://[^>]+)>", str(message.get("List-Unsubscribe", ""))))
    return links


def welcome_email(careers: CareersStack, email: str) -> EmailMessage:
    """The welcome email to ``email`` (an alert may come too, in any order)."""
    messages: list[EmailMessage] = []
    for _ in range(3):
        messages = careers.emails_to(email, len(messages) + 1)
        welcomes = [m for m in messages if str(m["Subject"]).startswith("Welcome")]
        if welcomes:
            return welcomes[0]
    raise AssertionError(f"no welcome email to {email}: {[m['Subject'] for m in messages]}")


def manage_link(careers: CareersStack, email: str) -> str:
    """The preference center link of the candidate's welcome email."""
    links = links_of(welcome_email(careers, email))
    [link] = [link for link in links if "/preferences?token=" in link]
    return link


def expect_page_of(page: Page, path: str) -> None:
    """The page an email link promises is the one the browser shows."""
    if path.startswith("/jobs/"):
        expect(page.locator("h1")).not_to_have_text("Job not found")
        expect(page.locator("#job-meta")).to_contain_text("Nursing")
    elif path == "/jobs":
        expect(page.locator("h1")).to_have_text("Search jobs")
        expect(page.locator("#results .tn-job").first).to_be_visible()
    elif path == "/preferences":
        expect(page.locator("#preferences-form")).to_be_visible()
        expect(page.locator("#masked-email")).not_to_be_empty()
    elif path == "/v1/signups/confirm":
        expect(page.locator("h1")).to_have_text("Confirm your Talent Network sign-up")
        expect(page.get_by_role("button", name="Confirm my sign-up")).to_be_visible()
    elif path == "/v1/unsubscribe":
        expect(page.locator("h1")).to_have_text("Unsubscribe from Talent Network emails?")
        expect(page.get_by_role("button", name="Unsubscribe")).to_be_visible()
    else:
        raise AssertionError(f"a link to an unexpected page: {path}")
