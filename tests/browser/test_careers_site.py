"""The careers site in Debian's Chromium, through the gateway, on the real services."""

import re
import uuid

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from devsupport.services import ADMIN_HEADERS
from tests.browser.links import links_of, manage_link, sign_up, welcome_email
from tests.browser.stack import CareersStack

pytestmark = pytest.mark.browser

EMPTY_RECENTLY_VIEWED = "You don't have recently viewed jobs yet"


def reload_until_count(page: Page, items: Locator, count: int, attempts: int = 60) -> None:
    """Views reach the list through Kafka: reload the page until it shows ``count`` items."""
    for _ in range(attempts):
        page.wait_for_load_state("networkidle")
        if items.count() == count:
            return
        page.wait_for_timeout(500)
        page.reload()
    expect(items).to_have_count(count)


def candidate(careers: CareersStack, candidate_id: str) -> dict[str, object]:
    response = httpx.get(f"{careers.url}/v1/candidates/{candidate_id}", headers=ADMIN_HEADERS)
    response.raise_for_status()
    found: dict[str, object] = response.json()
    return found


def test_a_fresh_browser_shows_the_empty_recently_viewed_text(
    careers: CareersStack, page: Page
) -> None:
    page.goto(careers.url)
    expect(page.locator("#recently-viewed")).to_have_text(EMPTY_RECENTLY_VIEWED)


def test_the_home_page_shows_featured_jobs(careers: CareersStack, page: Page) -> None:
    featured = careers.post_job(title=f"Featured Nurse {uuid.uuid4().hex[:6]}", featured=True)
    page.goto(careers.url)
    expect(page.locator("#featured-jobs")).to_contain_text(str(featured["title"]))


def test_two_job_pages_then_home_lists_both_newest_first(careers: CareersStack, page: Page) -> None:
    first = careers.post_job(title="Respiratory Therapist")
    second = careers.post_job(title="Clinical Dietitian")
    for job in (first, second):
        page.goto(f"{careers.url}/jobs/{job['job_id']}")
        expect(page.locator("h1")).to_have_text(str(job["title"]))
    page.goto(careers.url)
    items = page.locator("#recently-viewed .tn-job")
    reload_until_count(page, items, 2)
    expect(items.locator(".tn-job-title")).to_have_text([second["title"], first["title"]])


def test_job_search_filters_and_pages(careers: CareersStack, page: Page) -> None:
    word = f"Zebrafish{uuid.uuid4().hex[:6]}"
    for n in range(22):
        careers.post_job(title=f"{word} Research Associate {n}", category="Research")
    page.goto(f"{careers.url}/jobs")
    page.get_by_label("Keywords").fill(word)
    page.get_by_label("Job area").fill("Research")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#results .tn-job")).to_have_count(20)
    page.get_by_role("link", name="Next page").click()
    expect(page.locator("#results .tn-job")).to_have_count(2)
    expect(page.get_by_label("Keywords")).to_have_value(word)


def test_an_unknown_job_says_not_found(careers: CareersStack, page: Page) -> None:
    page.goto(f"{careers.url}/jobs/{uuid.uuid4()}")
    expect(page.locator("h1")).to_have_text("Job not found")


def test_signing_up_through_the_form_sends_the_welcome_email(
    careers: CareersStack, page: Page
) -> None:
    email = f"form-{uuid.uuid4().hex[:8]}@example.org"
    page.goto(careers.url)
    form = page.locator("#signup-form")
    form.get_by_label("First name").fill("Ada")
    form.get_by_label("Last name").fill("Lovelace")
    form.get_by_label("Email address").fill(email)
    form.get_by_label("Job areas").fill("Nursing, Research")
    form.get_by_label("I agree").check()
    form.get_by_role("button", name="Join the Talent Network").click()
    expect(form.get_by_role("status")).to_contain_text("Check your inbox")
    assert welcome_email(careers, email)["Subject"] == "Welcome to our Talent Network"


def fill_sign_up_form(page: Page, email: str) -> Locator:
    form = page.locator("#signup-form")
    form.get_by_label("First name").fill("Ada")
    form.get_by_label("Last name").fill("Lovelace")
    form.get_by_label("Email address").fill(email)
    form.get_by_label("I agree").check()
    return form


def test_the_sign_up_form_shows_the_apis_message_next_to_the_field_it_refuses(
    careers: CareersStack, page: Page
) -> None:
    page.goto(careers.url)
    form = fill_sign_up_form(page, "not-an-address")
    form.get_by_role("button", name="Join the Talent Network").click()
    email = form.get_by_label("Email address")
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(email).to_have_accessible_description(re.compile("email address", re.IGNORECASE))
    expect(email).to_be_focused()
    expect(form.get_by_role("status")).to_have_text("Please correct the field marked above.")


def test_the_sign_up_form_shows_a_refused_name_next_to_the_name(
    careers: CareersStack, page: Page
) -> None:
    refusal = {
        "loc": ["body", "first_name"],
        "msg": "Value error, holds a link",
        "type": "value_error",
    }
    page.route("**/v1/signups", lambda route: route.fulfill(status=422, json={"detail": [refusal]}))
    page.goto(careers.url)
    form = fill_sign_up_form(page, "ada@example.org")
    form.get_by_label("First name").fill("www.example.org")
    form.get_by_role("button", name="Join the Talent Network").click()
    expect(form.get_by_label("First name")).to_have_accessible_description("Holds a link")
    expect(form.locator(".tn-field-error")).to_have_count(1)


def test_a_pending_sign_up_says_to_confirm_from_the_inbox(
    careers: CareersStack, page: Page
) -> None:
    pending = {"candidate_id": str(uuid.uuid4()), "status": "pending"}
    page.route("**/v1/signups", lambda route: route.fulfill(status=200, json=pending))
    page.goto(careers.url)
    form = fill_sign_up_form(page, "ada@example.org")
    form.get_by_role("button", name="Join the Talent Network").click()
    expect(form.get_by_role("status")).to_have_text(
        "Check your inbox: we sent you an email to confirm."
    )


def test_a_corrected_field_loses_its_message_on_the_next_sign_up(
    careers: CareersStack, page: Page
) -> None:
    page.goto(careers.url)
    form = fill_sign_up_form(page, "not-an-address")
    form.get_by_role("button", name="Join the Talent Network").click()
    expect(form.locator(".tn-field-error")).to_have_count(1)
    form.get_by_label("Email address").fill(f"ada-{uuid.uuid4().hex[:8]}@example.org")
    form.get_by_role("button", name="Join the Talent Network").click()
    expect(form.get_by_role("status")).to_have_text(
        "You're in! Check your inbox for a welcome email."
    )
    expect(form.locator(".tn-field-error")).to_have_count(0)
    expect(form.get_by_label("Email address")).not_to_have_attribute("aria-invalid", "true")


def test_the_preference_center_saves_a_changed_frequency(careers: CareersStack, page: Page) -> None:
    signed_up = sign_up(careers, interests=["Pharmacy"], keywords=["oncology"])
    page.goto(manage_link(careers, signed_up.email))
    expect(page.get_by_label("Job areas")).to_have_value("Pharmacy")
    expect(page.get_by_label("Keywords")).to_have_value("oncology")
    expect(page.get_by_label("Alert frequency")).to_have_value("instant")
    page.get_by_label("Alert frequency").select_option("weekly")
    page.get_by_role("button", name="Save preferences").click()
    expect(page.get_by_role("status")).to_have_text("Your preferences are saved.")
    preferences = candidate(careers, signed_up.candidate_id)["preferences"]
    assert isinstance(preferences, dict)
    assert preferences["alert_frequency"] == "weekly"
    assert preferences["interests"] == ["Pharmacy"]


def test_the_preference_center_unsubscribes(careers: CareersStack, page: Page) -> None:
    signed_up = sign_up(careers)
    page.goto(manage_link(careers, signed_up.email))
    page.get_by_role("button", name="Unsubscribe from all emails").click()
    expect(page.get_by_role("status")).to_contain_text("You are unsubscribed")
    assert candidate(careers, signed_up.candidate_id)["status"] == "unsubscribed"


def test_the_preference_center_refuses_an_altered_link(careers: CareersStack, page: Page) -> None:
    page.goto(f"{careers.url}/preferences?token=forged")
    expect(page.locator("#preferences-intro")).to_contain_text("This link is not valid")
    expect(page.locator("#preferences-form")).to_be_hidden()


def test_the_site_loads_nothing_from_outside_its_origin(careers: CareersStack, page: Page) -> None:
    job = careers.post_job(title="Pharmacist")
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    for path in ("/", "/jobs", f"/jobs/{job['job_id']}", "/preferences?token=x"):
        page.goto(f"{careers.url}{path}")
        page.wait_for_load_state("networkidle")
    outside = [url for url in requested if not url.startswith(careers.url)]
    assert requested
    assert outside == []


def test_the_sign_up_form_is_usable_by_keyboard(careers: CareersStack, page: Page) -> None:
    page.goto(careers.url)
    page.get_by_label("First name").focus()
    order = []
    for _ in range(8):
        order.append(page.evaluate("document.activeElement.id"))
        page.keyboard.press("Tab")
    assert order == [
        "first_name",
        "last_name",
        "email",
        "interests",
        "locations",
        "keywords",
        "alert_frequency",
        "consent",
    ]
    expect(page.get_by_role("button", name="Join the Talent Network")).to_be_focused()


def test_every_form_control_has_a_label(careers: CareersStack, page: Page) -> None:
    for path in ("/", "/jobs"):
        page.goto(f"{careers.url}{path}")
        unlabelled = page.evaluate(
            """[...document.querySelectorAll('input:not([type=hidden]), select')]
                 .filter(control => !control.labels.length).map(control => control.outerHTML)"""
        )
        assert unlabelled == [], path


def test_the_home_page_fits_a_phone_screen(careers: CareersStack, page: Page) -> None:
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(careers.url)
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= 375
    expect(page.locator("#signup-form")).to_be_visible()


def test_the_unsubscribe_link_page_has_the_sites_look(careers: CareersStack, page: Page) -> None:
    signed_up = sign_up(careers)
    welcome = welcome_email(careers, signed_up.email)
    [link] = [link for link in links_of(welcome) if "/v1/unsubscribe?token=" in link]
    page.goto(link)
    expect(page.locator("h1")).to_have_text("Unsubscribe from Talent Network emails?")
    background = page.evaluate(
        "getComputedStyle(document.querySelector('.site-header')).backgroundColor"
    )
    assert background == "rgb(0, 83, 155)"


# WCAG 2 contrast of every element's own text against the first opaque background behind it.
LOW_CONTRAST_TEXT = """() => {
  const rgb = (color) => color.match(/[\\d.]+/g).map(Number);
  const luminance = ([r, g, b]) => {
    const channel = (c) => {
      c /= 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  };
  const background = (element) => {
    for (let node = element; node; node = node.parentElement) {
      const color = rgb(getComputedStyle(node).backgroundColor);
      if (color.length === 3 || color[3] === 1) return color.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const ratio = (a, b) => {
    const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (light + 0.05) / (dark + 0.05);
  };
  return [...document.querySelectorAll("body *")]
    .filter((element) => element.checkVisibility() && [...element.childNodes]
      .some((node) => node.nodeType === Node.TEXT_NODE && node.textContent.trim()))
    .map((element) => [element, ratio(rgb(getComputedStyle(element).color), background(element))])
    .filter(([, contrast]) => contrast < 4.5)
    .map(([element, contrast]) => `${element.textContent.trim()}: ${contrast.toFixed(2)}`);
}"""


def test_text_has_at_least_4_5_to_1_contrast(careers: CareersStack, page: Page) -> None:
    job = careers.post_job(title="Medical Librarian")
    for path in ("/", "/jobs", f"/jobs/{job['job_id']}"):
        page.goto(f"{careers.url}{path}")
        page.wait_for_load_state("networkidle")
        assert page.evaluate(LOW_CONTRAST_TEXT) == [], path


# Sum of the layout shifts the page had without recent input (the CLS of one page load).
LAYOUT_SHIFT = """() => new Promise((resolve) => {
  new PerformanceObserver((list) => resolve(list.getEntries()
    .filter((entry) => !entry.hadRecentInput)
    .reduce((sum, entry) => sum + entry.value, 0))).observe({type: "layout-shift", buffered: true});
  setTimeout(() => resolve(0), 1000);
})"""


@pytest.mark.parametrize(
    "viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}]
)
def test_a_returning_visitors_recently_viewed_jobs_move_nothing_on_the_home_page(
    careers: CareersStack, page: Page, viewport: dict[str, int]
) -> None:
    page.set_viewport_size(viewport)  # type: ignore[arg-type]
    jobs = [careers.post_job(title=f"Sonographer {'long title ' * n}{n}") for n in range(6)]
    for job in jobs:
        page.goto(f"{careers.url}/jobs/{job['job_id']}")
    page.goto(careers.url)
    reload_until_count(page, page.locator("#recently-viewed .tn-job"), 6)
    page.reload()
    expect(page.locator("#recently-viewed .tn-job")).to_have_count(6)
    assert page.evaluate(LAYOUT_SHIFT) == 0
