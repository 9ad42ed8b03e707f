"""Every link of every kind of email, followed in the browser through the gateway
(PUBLIC_BASE_URL is the gateway's origin): each answers 200 with the page it promises."""

import uuid
from email.message import EmailMessage
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page

from tests.browser.links import expect_page_of, links_of, sign_up, welcome_email
from tests.browser.stack import CareersStack

pytestmark = pytest.mark.browser

KINDS = ("welcome", "job_alert", "digest")


def kind_of(message: EmailMessage) -> str:
    subject = str(message["Subject"])
    if subject.startswith("Welcome"):
        return "welcome"
    return "digest" if "digest" in subject else "job_alert"


@pytest.fixture(scope="module")
def emails(careers: CareersStack) -> dict[str, EmailMessage]:
    """One email of each kind: a welcome and an alert to an instant subscriber, a digest to a
    daily one (the stack makes daily digests due at once)."""
    keyword = f"telemetry{uuid.uuid4().hex[:6]}"
    instant = sign_up(careers, interests=["Nursing"], keywords=[keyword])
    daily = sign_up(careers, interests=["Nursing"], keywords=[keyword], alert_frequency="daily")
    for candidate in (instant, daily):  # subscribed in notifications before the job is posted
        welcome_email(careers, candidate.email)
    careers.post_job(title=f"Cardiac Nurse {keyword}", category="Nursing")
    messages = careers.emails_to(instant.email, 2) + careers.emails_to(daily.email, 2)
    return {kind_of(message): message for message in messages}


@pytest.mark.parametrize("kind", KINDS)
def test_every_link_of_the_email_opens_its_page_through_the_gateway(
    careers: CareersStack, emails: dict[str, EmailMessage], page: Page, kind: str
) -> None:
    assert kind in emails, f"no {kind} email arrived (got {sorted(emails)})"
    links = links_of(emails[kind])
    assert links
    for link in sorted(links):
        assert link.startswith(f"{careers.url}/"), link
        response = page.goto(link)
        assert response is not None
        assert response.status == 200, link
        expect_page_of(page, urlsplit(link).path)
