"""The pages the jobs service renders, fetched as a crawler does (no JavaScript), and the facets
(real PostgreSQL and Kafka). The JobPosting, the sitemap and robots.txt are checked through the
gateway in tests/browser/test_found_by_search_engines.py."""

import uuid

import httpx
import pytest

from devsupport.services import ADMIN_HEADERS
from services.jobs.tests.helpers import post_job
from tests.support.html import canonical, job_postings, meta, parse, text_of

pytestmark = pytest.mark.integration


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


async def close(jobs: httpx.AsyncClient, job: dict[str, object]) -> None:
    response = await jobs.post(f"/v1/jobs/{job['job_id']}/close", headers=ADMIN_HEADERS)
    assert response.status_code == 200, response.text


def result_titles(page: str) -> list[str]:
    return text_of(page, "//div[@id='results']//a[@class='tn-job-title']")


async def test_facets_count_the_open_jobs_of_each_category_and_location(
    jobs: httpx.AsyncClient,
) -> None:
    category, town = unique("Phlebotomy"), unique("Mebane")
    await post_job(jobs, category=category, location=f"{town}, NC")
    await post_job(jobs, category=category, location=f"{town}, NC")
    await close(jobs, await post_job(jobs, category=category, location=f"{town}, NC"))
    facets = (await jobs.get("/v1/jobs/facets")).json()
    assert {"name": category, "count": 2} in facets["categories"]
    assert {"name": f"{town}, NC", "count": 2} in facets["locations"]


async def test_facets_count_a_value_in_any_case_once_spelt_as_most_jobs_spell_it(
    jobs: httpx.AsyncClient,
) -> None:
    category = unique("Sterile Processing")
    for spelling in (category, category, category.lower()):
        await post_job(jobs, category=spelling)
    names = [facet["name"] for facet in (await jobs.get("/v1/jobs/facets")).json()["categories"]]
    assert category in names
    assert category.lower() not in names
    facet = next(
        f for f in (await jobs.get("/v1/jobs/facets")).json()["categories"] if f["name"] == category
    )
    assert facet["count"] == 3


async def test_the_home_page_lists_featured_jobs_without_javascript(
    jobs: httpx.AsyncClient,
) -> None:
    featured = await post_job(jobs, title=unique("Featured Sonographer"), featured=True)
    page = (await jobs.get("/")).text
    assert featured["title"] in text_of(page, "//div[@id='featured-jobs']//a")
    assert meta(page, "description")
    assert canonical(page) == "http://127.0.0.1:8080/"


async def test_the_sign_up_form_offers_the_catalogues_job_areas_and_locations(
    jobs: httpx.AsyncClient,
) -> None:
    category, location = unique("Audiology"), unique("Pittsboro") + ", NC"
    await post_job(jobs, category=category, location=location)
    page = parse((await jobs.get("/")).text)
    areas = page.xpath("//datalist[@id=string(//input[@id='interests']/@list)]/option/@value")
    places = page.xpath("//datalist[@id=string(//input[@id='locations']/@list)]/option/@value")
    assert category in areas
    assert location in places


async def test_the_search_page_shows_the_results_and_their_count(jobs: httpx.AsyncClient) -> None:
    category = unique("Radiology")
    titles = [unique("Radiologic Technologist") for _ in range(3)]
    for title in titles:
        await post_job(jobs, title=title, category=category)
    page = (await jobs.get("/jobs", params={"category": category})).text
    assert result_titles(page) == list(reversed(titles))
    assert text_of(page, "//p[@id='results-count']") == ["3 open jobs match your search"]


async def test_the_search_page_keeps_the_filters_in_its_form(jobs: httpx.AsyncClient) -> None:
    params = {"q": "night shift", "category": "Nursing", "location": "Durham"}
    page = parse((await jobs.get("/jobs", params=params)).text)
    for name, value in params.items():
        assert page.xpath(f"//form[@id='job-search']//input[@name='{name}']/@value") == [value]


async def test_the_next_page_link_keeps_the_filters_and_shows_the_rest(
    jobs: httpx.AsyncClient,
) -> None:
    category = unique("Informatics")
    titles = [unique("Epic Analyst") for _ in range(23)]
    for title in titles:
        await post_job(jobs, title=title, category=category)
    first = (await jobs.get("/jobs", params={"category": category})).text
    [next_link] = parse(first).xpath("//a[@id='next-page']/@href")
    second = (await jobs.get(str(next_link))).text
    assert len(result_titles(first)) == 20
    assert result_titles(first) + result_titles(second) == list(reversed(titles))
    assert text_of(second, "//p[@id='results-count']") == ["23 open jobs match your search"]
    assert parse(second).xpath("//a[@id='next-page']") == []


async def test_a_search_that_matches_nothing_says_so(jobs: httpx.AsyncClient) -> None:
    page = (await jobs.get("/jobs", params={"q": f"zq{uuid.uuid4().hex}"})).text
    assert text_of(page, "//p[@id='results-count']") == ["No open jobs match your search."]


@pytest.mark.parametrize(
    "params",
    [{"q": "x" * 201}, {"location": "Durham\x00"}, {"category": "Nursing\u202e"}, {"q": "a\x1bb"}],
)
async def test_a_search_the_page_cannot_run_is_a_400_page_with_the_form(
    jobs: httpx.AsyncClient, params: dict[str, str]
) -> None:
    response = await jobs.get("/jobs", params=params)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert text_of(response.text, "//p[@id='results-count']") == [
        "We could not search for that: use shorter words, without control characters."
    ]


async def test_a_cursor_this_site_did_not_make_is_a_400_page(jobs: httpx.AsyncClient) -> None:
    response = await jobs.get("/jobs", params={"q": "nurse", "cursor": "not-a-cursor"})
    assert response.status_code == 400
    assert "start from the first page" in text_of(response.text, "//p[@id='results-count']")[0]


async def test_parameters_the_search_does_not_know_are_ignored(jobs: httpx.AsyncClient) -> None:
    response = await jobs.get("/jobs", params={"utm_source": "newsletter", "page": "x"})
    assert response.status_code == 200


async def test_text_typed_into_the_search_reaches_the_page_escaped(
    jobs: httpx.AsyncClient,
) -> None:
    typed = '"><script>alert(1)</script>'
    response = await jobs.get("/jobs", params={"q": typed})
    assert "<script>alert(1)" not in response.text
    assert parse(response.text).xpath("//input[@name='q']/@value") == [typed]


async def test_a_job_typed_with_markup_reaches_its_page_escaped(jobs: httpx.AsyncClient) -> None:
    job = await post_job(
        jobs, title="Nurse <img src=x onerror=alert(1)>", description="</script><b>bold</b>"
    )
    page = (await jobs.get(f"/jobs/{job['job_id']}")).text
    assert "<img src=x" not in page
    assert "</script><b>" not in page
    assert text_of(page, "//h1") == [job["title"]]
    [posting] = job_postings(page, f"http://127.0.0.1:8080/jobs/{job['job_id']}")
    assert posting["title"] == job["title"]


async def test_a_jobs_page_has_its_title_description_and_meta_description(
    jobs: httpx.AsyncClient,
) -> None:
    job = await post_job(jobs, title=unique("Charge Nurse"), description="Lead the night team.")
    response = await jobs.get(f"/jobs/{job['job_id']}")
    assert response.status_code == 200
    assert text_of(response.text, "//title") == [f"{job['title']} · Careers"]
    assert text_of(response.text, "//h1") == [job["title"]]
    assert text_of(response.text, "//div[@id='job-description']") == ["Lead the night team."]
    assert meta(response.text, "description") == "Lead the night team."


async def test_an_id_that_is_no_job_id_is_a_404_page(jobs: httpx.AsyncClient) -> None:
    response = await jobs.get("/jobs/42-abc")
    assert response.status_code == 404
    assert text_of(response.text, "//h1") == ["Job not found"]


async def test_a_path_below_a_job_is_a_404_page(jobs: httpx.AsyncClient) -> None:
    response = await jobs.get(f"/jobs/{uuid.uuid4()}/apply")
    assert response.status_code == 404
    assert text_of(response.text, "//h1") == ["Page not found"]


async def test_pages_answer_head_requests(jobs: httpx.AsyncClient) -> None:
    for path in ("/", "/jobs", "/sitemap.xml", "/robots.txt"):
        assert (await jobs.head(path)).status_code == 200, path


async def test_pages_carry_the_sites_content_security_policy(jobs: httpx.AsyncClient) -> None:
    job = await post_job(jobs)
    for path in ("/", "/jobs", f"/jobs/{job['job_id']}", f"/jobs/{uuid.uuid4()}"):
        policy = (await jobs.get(path)).headers["content-security-policy"]
        assert policy.startswith("default-src 'self'"), path
