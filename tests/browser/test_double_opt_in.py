"""With SIGNUP_DOUBLE_OPT_IN on: the confirmation email's links, and confirming in the browser."""

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.browser.links import expect_page_of, links_of, sign_up, welcome_email
from tests.browser.stack import CareersStack, careers_stack

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def opt_in(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CareersStack]:
    with careers_stack(tmp_path_factory.mktemp("opt-in"), SIGNUP_DOUBLE_OPT_IN="true") as stack:
        yield stack


def confirmation_link(careers: CareersStack, email: str) -> str:
    [confirmation] = careers.emails_to(email, 1)
    [link] = [link for link in links_of(confirmation) if "/v1/signups/confirm?" in link]
    return link


def test_every_link_of_the_confirmation_email_opens_its_page_through_the_gateway(
    opt_in: CareersStack, page: Page
) -> None:
    signed_up = sign_up(opt_in)
    [confirmation] = opt_in.emails_to(signed_up.email, 1)
    links = links_of(confirmation)
    assert links
    for link in sorted(links):
        assert link.startswith(f"{opt_in.url}/"), link
        response = page.goto(link)
        assert response is not None
        assert response.status == 200, link
        expect_page_of(page, urlsplit(link).path)


def test_the_confirm_page_has_the_sites_look(opt_in: CareersStack, page: Page) -> None:
    signed_up = sign_up(opt_in)
    page.goto(confirmation_link(opt_in, signed_up.email))
    header = page.locator(".site-header")
    background = header.evaluate("header => getComputedStyle(header).backgroundColor")
    assert background == "rgb(0, 83, 155)"


def test_confirming_in_the_browser_brings_the_welcome_email(
    opt_in: CareersStack, page: Page
) -> None:
    signed_up = sign_up(opt_in)
    page.goto(confirmation_link(opt_in, signed_up.email))
    page.get_by_role("button", name="Confirm my sign-up").click()
    expect(page.locator("h1")).to_have_text("You are signed up")
    assert str(welcome_email(opt_in, signed_up.email)["Subject"]).startswith("Welcome")
