"""What search engines and link previews get from the careers site: the pages fetched without
JavaScript through the gateway, the JobPosting read by extruct (an extractor independent of
ours), the sitemap and robots.txt read by standard parsers."""

import time
import urllib.robotparser
import uuid
import xml.etree.ElementTree as ElementTree
from datetime import datetime
from typing import Any

import httpx
import pytest

from devsupport.services import ADMIN_HEADERS
from tests.browser.conftest import HIRING_ORGANIZATION
from tests.browser.stack import CareersStack
from tests.support.html import canonical, job_postings, meta, structured_data, text_of

pytestmark = pytest.mark.browser

SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
SITEMAP_DELAY_SECONDS = 10  # the contract: a posted or closed job is in the sitemap within 10 s


def page(careers: CareersStack, path: str) -> httpx.Response:
    return httpx.get(f"{careers.url}{path}", headers={"User-Agent": "Googlebot/2.1"})


def posting_of(careers: CareersStack, job: dict[str, Any]) -> dict[str, Any]:
    url = f"{careers.url}/jobs/{job['job_id']}"
    [posting] = job_postings(page(careers, f"/jobs/{job['job_id']}").text, url)
    return posting


def nurse(careers: CareersStack, **fields: object) -> dict[str, Any]:
    return careers.post_job(
        title=f"Registered Nurse - ICU {uuid.uuid4().hex[:6]}",
        description="Night shift in the intensive care unit.\n\nBLS & ACLS required.",
        location="Durham, NC 27710",
        employment_type="Full-time or PRN",
        requisition_id=f"REQ-{uuid.uuid4().hex[:8]}",
        **fields,
    )


def sitemap_locations(careers: CareersStack) -> dict[str, str | None]:
    """Each URL of the sitemap with its lastmod."""
    root = ElementTree.fromstring(page(careers, "/sitemap.xml").content)
    return {
        str(url.findtext(f"{SITEMAP}loc")): url.findtext(f"{SITEMAP}lastmod")
        for url in root.iter(f"{SITEMAP}url")
    }


def wait_for_sitemap(careers: CareersStack, url: str, *, listed: bool) -> float:
    """Seconds until ``url`` is (or is no longer) in the sitemap; fails past the contract's."""
    started = time.monotonic()
    while (url in sitemap_locations(careers)) != listed:
        assert time.monotonic() - started < SITEMAP_DELAY_SECONDS, f"{url} listed: {not listed}"
        time.sleep(0.2)
    return time.monotonic() - started


def close(careers: CareersStack, job: dict[str, Any]) -> None:
    response = httpx.post(f"{careers.url}/v1/jobs/{job['job_id']}/close", headers=ADMIN_HEADERS)
    response.raise_for_status()


def test_a_jobs_page_has_exactly_one_job_posting(careers: CareersStack) -> None:
    job = nurse(careers)
    url = f"{careers.url}/jobs/{job['job_id']}"
    assert len(job_postings(page(careers, f"/jobs/{job['job_id']}").text, url)) == 1


def test_the_job_posting_has_the_jobs_title_and_description(careers: CareersStack) -> None:
    job = nurse(careers)
    posting = posting_of(careers, job)
    assert posting["title"] == job["title"]
    assert posting["description"] == (
        "<p>Night shift in the intensive care unit.</p><p>BLS &amp; ACLS required.</p>"
    )


def test_the_job_posting_has_the_date_the_job_was_posted(careers: CareersStack) -> None:
    job = nurse(careers)
    posted = datetime.fromisoformat(posting_of(careers, job)["datePosted"])
    assert posted == datetime.fromisoformat(job["posted_at"]).replace(microsecond=0)


def test_the_job_posting_has_schema_org_employment_types(careers: CareersStack) -> None:
    assert posting_of(careers, nurse(careers))["employmentType"] == ["FULL_TIME", "PER_DIEM"]


def test_the_job_posting_names_the_hiring_organization(careers: CareersStack) -> None:
    organization = posting_of(careers, nurse(careers))["hiringOrganization"]
    assert organization == {"@type": "Organization", **HIRING_ORGANIZATION}


def test_the_job_posting_has_the_jobs_address(careers: CareersStack) -> None:
    location = posting_of(careers, nurse(careers))["jobLocation"]
    assert location == {
        "@type": "Place",
        "address": {
            "@type": "PostalAddress",
            "addressLocality": "Durham",
            "addressRegion": "NC",
            "postalCode": "27710",
            "addressCountry": "US",
        },
    }


def test_the_job_posting_is_identified_by_the_requisition_id(careers: CareersStack) -> None:
    job = nurse(careers)
    assert posting_of(careers, job)["identifier"] == {
        "@type": "PropertyValue",
        "name": HIRING_ORGANIZATION["name"],
        "value": job["requisition_id"],
    }


def test_the_job_posting_has_no_valid_through_as_the_catalogue_knows_no_closing_date(
    careers: CareersStack,
) -> None:
    assert "validThrough" not in posting_of(careers, nurse(careers))


def test_a_remote_jobs_posting_says_telecommute_in_the_default_country(
    careers: CareersStack,
) -> None:
    posting = posting_of(careers, careers.post_job(title="Medical Coder", location="Remote"))
    assert posting["jobLocationType"] == "TELECOMMUTE"
    assert posting["applicantLocationRequirements"] == {"@type": "Country", "name": "US"}


def test_a_jobs_page_has_its_canonical_url_from_the_public_base_url(careers: CareersStack) -> None:
    job = nurse(careers)
    html = page(careers, f"/jobs/{job['job_id']}?utm_source=mail").text
    assert canonical(html) == f"{careers.url}/jobs/{job['job_id']}"
    assert posting_of(careers, job)["url"] == canonical(html)


def test_a_jobs_page_has_open_graph_tags_for_link_previews(careers: CareersStack) -> None:
    job = nurse(careers)
    url = f"{careers.url}/jobs/{job['job_id']}"
    [graph] = structured_data(page(careers, f"/jobs/{job['job_id']}").text, url)["opengraph"]
    assert graph["og:title"] == f"{job['title']} · Durham, NC 27710"
    assert graph["og:url"] == url
    assert graph["og:description"] == "Night shift in the intensive care unit. BLS & ACLS required."
    assert graph["@type"] == "website"  # extruct gives og:type as @type


def test_a_jobs_page_has_a_meta_description_from_the_jobs_text(careers: CareersStack) -> None:
    job = nurse(careers)
    html = page(careers, f"/jobs/{job['job_id']}").text
    assert (
        meta(html, "description") == "Night shift in the intensive care unit. BLS & ACLS required."
    )


def test_a_closed_jobs_page_is_gone_with_a_page_for_people_and_no_job_posting(
    careers: CareersStack,
) -> None:
    job = nurse(careers)
    close(careers, job)
    response = page(careers, f"/jobs/{job['job_id']}")
    assert response.status_code == 410
    assert text_of(response.text, "//h1") == ["This job is closed"]
    assert job["title"] in text_of(response.text, "//p[@id='job-status']")[0]
    assert job_postings(response.text, f"{careers.url}/jobs/{job['job_id']}") == []


def test_an_unknown_jobs_page_is_404_with_a_page_for_people(careers: CareersStack) -> None:
    response = page(careers, f"/jobs/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/html")
    assert text_of(response.text, "//h1") == ["Job not found"]


def test_the_home_page_shows_featured_jobs_without_javascript(careers: CareersStack) -> None:
    featured = careers.post_job(title=f"Featured Pharmacist {uuid.uuid4().hex[:6]}", featured=True)
    html = page(careers, "/").text
    assert featured["title"] in text_of(html, "//div[@id='featured-jobs']//a")


def test_the_search_page_shows_results_and_their_count_without_javascript(
    careers: CareersStack,
) -> None:
    category = f"Audiology {uuid.uuid4().hex[:6]}"
    titles = [
        careers.post_job(title=f"Audiologist {n}", category=category)["title"] for n in (1, 2)
    ]
    html = page(careers, f"/jobs?category={category}").text
    assert text_of(html, "//div[@id='results']//a") == list(reversed(titles))
    assert text_of(html, "//p[@id='results-count']") == ["2 open jobs match your search"]


def test_the_sitemap_lists_the_home_and_search_pages(careers: CareersStack) -> None:
    listed = sitemap_locations(careers)
    assert {f"{careers.url}/", f"{careers.url}/jobs"} <= set(listed)


def test_the_sitemap_lists_a_posted_job_with_its_last_change_within_10_seconds(
    careers: CareersStack,
) -> None:
    job = nurse(careers)
    url = f"{careers.url}/jobs/{job['job_id']}"
    wait_for_sitemap(careers, url, listed=True)
    lastmod = sitemap_locations(careers)[url]
    assert lastmod is not None
    assert datetime.fromisoformat(lastmod) == datetime.fromisoformat(job["updated_at"]).replace(
        microsecond=0
    )


def test_the_sitemap_drops_a_closed_job_within_10_seconds(careers: CareersStack) -> None:
    job = nurse(careers)
    url = f"{careers.url}/jobs/{job['job_id']}"
    wait_for_sitemap(careers, url, listed=True)
    close(careers, job)
    wait_for_sitemap(careers, url, listed=False)


def robots(careers: CareersStack) -> urllib.robotparser.RobotFileParser:
    parser = urllib.robotparser.RobotFileParser(f"{careers.url}/robots.txt")
    parser.parse(page(careers, "/robots.txt").text.splitlines())
    return parser


@pytest.mark.parametrize("path", ["/", "/jobs", "/jobs?q=nurse", f"/jobs/{uuid.uuid4()}"])
def test_robots_txt_lets_crawlers_fetch_the_pages(careers: CareersStack, path: str) -> None:
    assert robots(careers).can_fetch("Googlebot", f"{careers.url}{path}")


@pytest.mark.parametrize("path", ["/v1/jobs", "/v1/unsubscribe?token=x", "/preferences?token=x"])
def test_robots_txt_keeps_crawlers_off_the_api_and_the_preference_center(
    careers: CareersStack, path: str
) -> None:
    assert not robots(careers).can_fetch("Googlebot", f"{careers.url}{path}")


def test_robots_txt_names_the_sitemap_at_the_public_origin(careers: CareersStack) -> None:
    assert robots(careers).site_maps() == [f"{careers.url}/sitemap.xml"]


def test_the_favicon_exists(careers: CareersStack) -> None:
    response = page(careers, "/favicon.ico")
    assert response.status_code == 200
    assert response.content.startswith(b"\x00\x00\x01\x00")  # an ICO file's header
