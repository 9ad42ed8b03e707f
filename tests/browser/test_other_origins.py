"""talent.js embedded in a page of another origin (tests/browser/conftest.py EMBEDDING_PAGE)."""

import uuid

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import SecondOrigin
from tests.browser.links import welcome_email
from tests.browser.stack import CareersStack

pytestmark = pytest.mark.browser


def test_a_listed_origin_posts_views_with_talent_js_and_they_show(
    careers: CareersStack, second_origin: SecondOrigin, page: Page
) -> None:
    first = careers.post_job(title="Sterile Processing Technician")
    second = careers.post_job(title="Unit Secretary")
    page.goto(f"{second_origin.listed}/embed.html")
    expect(page.locator("#recent")).to_have_text("You don't have recently viewed jobs yet")
    page.evaluate(
        "ids => ids.forEach(id => TalentNetwork.viewed(id))", [first["job_id"], second["job_id"]]
    )
    items = page.locator("#recent .tn-job-title")
    for _ in range(60):  # leaving the page sends the batch with sendBeacon; Kafka brings it back
        page.reload()
        page.wait_for_load_state("networkidle")
        if items.count() == 2:
            break
    expect(items).to_have_text([str(second["title"]), str(first["title"])])


def test_an_unlisted_origin_is_refused_by_the_browser(
    careers: CareersStack, second_origin: SecondOrigin, page: Page
) -> None:
    job = careers.post_job(title="Patient Transporter")
    page.goto(f"{second_origin.unlisted}/embed.html")
    expect(page.locator("#recent")).to_have_text("Recently viewed jobs are unavailable right now.")
    page.evaluate("id => TalentNetwork.viewed(id)", job["job_id"])
    outcome = page.evaluate("TalentNetwork.flush().then(() => 'sent', error => error.name)")
    assert outcome == "TypeError"  # the preflight was refused: the request never left
    visitor = page.evaluate("TalentNetwork.visitorId()")
    recent = httpx.get(f"{careers.url}/v1/visitors/{visitor}/recently-viewed").json()
    assert recent["items"] == []


def test_views_still_count_when_storage_is_blocked(
    careers: CareersStack, second_origin: SecondOrigin, page: Page
) -> None:
    job = careers.post_job(title="Phlebotomist")
    page.add_init_script(
        "Object.defineProperty(window, 'localStorage', "
        "{get() { throw new DOMException('blocked', 'SecurityError'); }})"
    )
    page.goto(f"{second_origin.listed}/embed.html")
    visitor = page.evaluate("TalentNetwork.visitorId()")
    assert visitor == page.evaluate("TalentNetwork.visitorId()")  # one id for the whole visit
    page.evaluate("id => TalentNetwork.viewed(id)", job["job_id"])
    result = page.evaluate("TalentNetwork.flush()")
    assert result == {"accepted": 1, "rejected": []}
    recent: list[object] = []
    for _ in range(60):
        recent = httpx.get(f"{careers.url}/v1/visitors/{visitor}/recently-viewed").json()["items"]
        if recent:
            break
        page.wait_for_timeout(250)
    assert [item["job_id"] for item in recent] == [job["job_id"]]  # type: ignore[index]


def test_a_listed_origin_signs_up_and_shows_featured_jobs_with_talent_js(
    careers: CareersStack, second_origin: SecondOrigin, page: Page
) -> None:
    featured = careers.post_job(title="Flight Nurse", featured=True)
    email = f"embedded-{uuid.uuid4().hex[:8]}@example.org"
    page.goto(f"{second_origin.listed}/embed.html")
    page.evaluate("TalentNetwork.renderFeaturedJobs(document.getElementById('recent'))")
    expect(page.locator("#recent")).to_contain_text(str(featured["title"]))
    signup = {"email": email, "first_name": "Mary", "last_name": "Seacole", "consent": True}
    result = page.evaluate("body => TalentNetwork.request('POST', '/v1/signups', body)", signup)
    assert result["status"] == "subscribed"
    assert welcome_email(careers, email)["Subject"] == "Welcome to our Talent Network"
