"""`make screenshots`: the careers site's pages on the demo catalogue, at desktop and phone
width, written to docs/screenshots/ (shown in the README)."""

import tempfile
from pathlib import Path

import httpx
from playwright.sync_api import Browser, Page, expect, sync_playwright

from deploy.local.seed_jobs import load_catalogue
from devsupport.infra import REPO_ROOT
from talent_shared.settings import DEVELOPMENT_ADMIN_TOKEN
from tests.browser.links import manage_link, sign_up
from tests.browser.stack import CareersStack, careers_stack, launch_chromium

SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"
VIEWPORTS = {"": {"width": 1280, "height": 900}, "-phone": {"width": 390, "height": 844}}


def seed_catalogue(careers: CareersStack) -> None:
    load_catalogue(careers.url, DEVELOPMENT_ADMIN_TOKEN)  # the gateway routes /v1/jobs


def visit_jobs_then_home(page: Page, careers: CareersStack, job_ids: list[str]) -> None:
    for job_id in job_ids:
        page.goto(f"{careers.url}/jobs/{job_id}")
        expect(page.locator("#job-meta")).not_to_be_empty()
    page.goto(careers.url)
    for _ in range(60):  # the views come back through Kafka
        page.wait_for_load_state("networkidle")
        if page.locator("#recently-viewed .tn-job").count() == len(job_ids):
            return
        page.wait_for_timeout(500)
        page.reload()


def shoot(browser: Browser, careers: CareersStack, preferences_link: str) -> None:
    featured = httpx.get(f"{careers.url}/v1/jobs", params={"featured": "true", "limit": 3}).json()
    job_ids = [job["job_id"] for job in featured["items"]]
    for suffix, viewport in VIEWPORTS.items():
        context = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
        page = context.new_page()
        visit_jobs_then_home(page, careers, job_ids)
        page.screenshot(path=SCREENSHOTS / f"home{suffix}.png", full_page=True)
        page.goto(f"{careers.url}/jobs?category=Nursing&location=Durham")
        page.screenshot(path=SCREENSHOTS / f"search{suffix}.png", full_page=True)
        page.goto(f"{careers.url}/jobs/{job_ids[0]}")
        expect(page.locator("#job-meta")).not_to_be_empty()
        page.screenshot(path=SCREENSHOTS / f"job{suffix}.png", full_page=True)
        page.goto(preferences_link)
        expect(page.locator("#preferences-form")).to_be_visible()
        page.screenshot(path=SCREENSHOTS / f"preferences{suffix}.png", full_page=True)
        context.close()


def main() -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as workdir, careers_stack(Path(workdir)) as careers:
        seed_catalogue(careers)
        signed_up = sign_up(
            careers,
            interests=["Nursing", "Pharmacy"],
            locations=["Durham"],
            keywords=["ICU"],
            alert_frequency="weekly",
        )
        link = manage_link(careers, signed_up.email)
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            shoot(browser, careers, link)
            browser.close()
    print(f"screenshots written to {SCREENSHOTS.relative_to(REPO_ROOT)}/")


if __name__ == "__main__":
    main()
