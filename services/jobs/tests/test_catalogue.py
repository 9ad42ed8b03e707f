"""The job catalogue: admin writes, filters, keyset pagination (real PostgreSQL and Kafka)."""

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from devsupport.services import ADMIN_HEADERS
from services.jobs.tests.helpers import post_job
from talent_shared.events import POSTINGS_TOPIC
from tests.support.kafka import read_until, topic_reader

pytestmark = pytest.mark.integration


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


async def list_jobs(jobs: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await jobs.get("/v1/jobs", params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def all_pages(jobs: httpx.AsyncClient, **params: Any) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        page = await list_jobs(jobs, **params, **({"cursor": cursor} if cursor else {}))
        ids += [job["job_id"] for job in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return ids


@pytest.mark.parametrize(
    ("method", "path"),
    [("patch", "/v1/jobs/{id}"), ("post", "/v1/jobs/{id}/close"), ("post", "/v1/jobs")],
)
async def test_admin_endpoints_refuse_a_missing_token(
    jobs: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await jobs.request(method, path.format(id=uuid.uuid4()), json={"title": "x"})
    assert response.status_code == 401


async def test_list_shows_open_jobs_newest_first(jobs: httpx.AsyncClient) -> None:
    category = unique("Pharmacy")
    first = await post_job(jobs, category=category)
    second = await post_job(jobs, category=category)
    page = await list_jobs(jobs, category=category)
    assert [job["job_id"] for job in page["items"]] == [second["job_id"], first["job_id"]]
    assert page["next_cursor"] is None


async def test_list_leaves_closed_jobs_out(jobs: httpx.AsyncClient) -> None:
    category = unique("Research")
    kept, closed = await post_job(jobs, category=category), await post_job(jobs, category=category)
    await jobs.post(f"/v1/jobs/{closed['job_id']}/close", headers=ADMIN_HEADERS)
    page = await list_jobs(jobs, category=category)
    assert [job["job_id"] for job in page["items"]] == [kept["job_id"]]


async def test_featured_filter(jobs: httpx.AsyncClient) -> None:
    category = unique("Nursing")
    featured = await post_job(jobs, category=category, featured=True)
    await post_job(jobs, category=category, featured=False)
    page = await list_jobs(jobs, category=category, featured="true")
    assert [job["job_id"] for job in page["items"]] == [featured["job_id"]]


async def test_category_filter_ignores_case(jobs: httpx.AsyncClient) -> None:
    category = unique("Allied Health")
    job = await post_job(jobs, category=category)
    page = await list_jobs(jobs, category=category.upper())
    assert [item["job_id"] for item in page["items"]] == [job["job_id"]]


async def test_location_filter_is_case_insensitive_contains(jobs: httpx.AsyncClient) -> None:
    town = unique("Hillsborough")
    job = await post_job(jobs, location=f"{town}, NC")
    page = await list_jobs(jobs, location=town.lower())
    assert [item["job_id"] for item in page["items"]] == [job["job_id"]]


async def test_location_filter_treats_wildcards_literally(jobs: httpx.AsyncClient) -> None:
    await post_job(jobs, location=unique("Durham"))
    assert (await list_jobs(jobs, location="%"))["items"] == []


async def test_text_search_finds_words_in_title_and_description(jobs: httpx.AsyncClient) -> None:
    word = f"zq{uuid.uuid4().hex[:6]}"
    in_title = await post_job(jobs, title=f"Echocardiographer {word}")
    in_description = await post_job(jobs, description=f"Experience with {word} required")
    await post_job(jobs)
    page = await list_jobs(jobs, q=word)
    assert {item["job_id"] for item in page["items"]} == {
        in_title["job_id"],
        in_description["job_id"],
    }


async def test_text_search_matches_word_forms(jobs: httpx.AsyncClient) -> None:
    category = unique("IT")
    job = await post_job(jobs, category=category, title="Nursing informatics analyst")
    page = await list_jobs(jobs, category=category, q="nurse")
    assert [item["job_id"] for item in page["items"]] == [job["job_id"]]


async def test_pages_have_no_duplicate_or_missing_job_while_jobs_are_inserted(
    jobs: httpx.AsyncClient,
) -> None:
    category = unique("Environmental Services")
    existing = [(await post_job(jobs, category=category))["job_id"] for _ in range(17)]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"category": category, "limit": 4, **({"cursor": cursor} if cursor else {})}
        page = await list_jobs(jobs, **params)
        seen += [job["job_id"] for job in page["items"]]
        await post_job(jobs, category=category)  # a new job lands between two pages
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen))
    assert seen == list(reversed(existing))


async def test_limit_bounds_the_page(jobs: httpx.AsyncClient) -> None:
    category = unique("Administrative")
    for _ in range(3):
        await post_job(jobs, category=category)
    page = await list_jobs(jobs, category=category, limit=2)
    assert len(page["items"]) == 2
    assert page["next_cursor"]


@pytest.mark.parametrize("limit", [0, 101, "many"])
async def test_limit_out_of_range_is_422(jobs: httpx.AsyncClient, limit: int | str) -> None:
    response = await jobs.get("/v1/jobs", params={"limit": limit})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "limit"]


@pytest.mark.parametrize("cursor", ["garbage", "eyJwIjogMX0", "!!!"])
async def test_forged_cursor_is_422_naming_cursor(jobs: httpx.AsyncClient, cursor: str) -> None:
    response = await jobs.get("/v1/jobs", params={"cursor": cursor})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "cursor"]


async def test_patch_changes_only_the_fields_sent(jobs: httpx.AsyncClient) -> None:
    job = await post_job(jobs, title="Pharmacist", featured=False)
    response = await jobs.patch(
        f"/v1/jobs/{job['job_id']}", json={"featured": True}, headers=ADMIN_HEADERS
    )
    assert response.status_code == 200
    updated = response.json()
    assert updated["featured"] is True
    assert updated["title"] == "Pharmacist"
    assert updated["updated_at"] > job["updated_at"]


async def test_patch_of_unknown_job_is_404(jobs: httpx.AsyncClient) -> None:
    response = await jobs.patch(
        f"/v1/jobs/{uuid.uuid4()}", json={"title": "x"}, headers=ADMIN_HEADERS
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [({"title": None}, "title"), ({"title": ""}, "title"), ({"salary": 1}, "salary")],
)
async def test_invalid_patch_is_422_naming_the_field(
    jobs: httpx.AsyncClient, body: dict[str, object], field: str
) -> None:
    job = await post_job(jobs)
    response = await jobs.patch(f"/v1/jobs/{job['job_id']}", json=body, headers=ADMIN_HEADERS)
    assert response.status_code == 422
    assert field in [error["loc"][-1] for error in response.json()["detail"]]


async def test_empty_patch_is_422(jobs: httpx.AsyncClient) -> None:
    job = await post_job(jobs)
    response = await jobs.patch(f"/v1/jobs/{job['job_id']}", json={}, headers=ADMIN_HEADERS)
    assert response.status_code == 422


async def test_close_marks_the_job_closed_and_keeps_it_readable(jobs: httpx.AsyncClient) -> None:
    job = await post_job(jobs)
    closed = await jobs.post(f"/v1/jobs/{job['job_id']}/close", headers=ADMIN_HEADERS)
    assert closed.status_code == 200
    assert closed.json()["status"] == "closed"
    read = (await jobs.get(f"/v1/jobs/{job['job_id']}")).json()
    assert read["status"] == "closed"
    assert read["closed_at"] is not None


async def test_close_of_unknown_job_is_404(jobs: httpx.AsyncClient) -> None:
    response = await jobs.post(f"/v1/jobs/{uuid.uuid4()}/close", headers=ADMIN_HEADERS)
    assert response.status_code == 404


@pytest.mark.parametrize("field", ["title", "category", "location", "description"])
async def test_overlong_field_is_422(jobs: httpx.AsyncClient, field: str) -> None:
    body = {"title": "t", "category": "c", "location": "l", "description": "d"}
    body[field] = "x" * 20_001
    response = await jobs.post("/v1/jobs", json=body, headers=ADMIN_HEADERS)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", field]


async def test_create_update_close_emit_events_in_order(jobs: httpx.AsyncClient) -> None:
    async with topic_reader(POSTINGS_TOPIC) as reader:
        job = await post_job(jobs)
        job_id = job["job_id"]
        await jobs.patch(f"/v1/jobs/{job_id}", json={"featured": True}, headers=ADMIN_HEADERS)
        await jobs.patch(f"/v1/jobs/{job_id}", json={"title": "RN"}, headers=ADMIN_HEADERS)
        await jobs.post(f"/v1/jobs/{job_id}/close", headers=ADMIN_HEADERS)
        records = await read_until(
            reader, lambda r: r.key == job_id.encode() and b"JobClosed" in r.value
        )
    mine = [r for r in records if r.key == job_id.encode()]
    types = [dict(r.headers)["event_type"].decode() for r in mine]
    assert types == ["JobPosted", "JobUpdated", "JobUpdated", "JobClosed"]


async def test_unchanged_patch_and_repeated_close_emit_nothing(jobs: httpx.AsyncClient) -> None:
    async with topic_reader(POSTINGS_TOPIC) as reader:
        job = await post_job(jobs, title="Dietitian")
        job_id = job["job_id"]
        await jobs.post(f"/v1/jobs/{job_id}/close", headers=ADMIN_HEADERS)
        await read_until(reader, lambda r: r.key == job_id.encode() and b"JobClosed" in r.value)

        await jobs.patch(f"/v1/jobs/{job_id}", json={"title": "Dietitian"}, headers=ADMIN_HEADERS)
        again = await jobs.post(f"/v1/jobs/{job_id}/close", headers=ADMIN_HEADERS)
        assert again.status_code == 200
        marker = await post_job(jobs)  # a later event, to know the earlier ones had their chance
        records = await read_until(reader, lambda r: r.key == marker["job_id"].encode())
    assert [r for r in records if r.key == job_id.encode()] == []


async def test_concurrent_patches_each_emit_one_event(jobs: httpx.AsyncClient) -> None:
    job = await post_job(jobs)
    job_id = job["job_id"]
    titles = [f"Title {n}" for n in range(8)]
    async with topic_reader(POSTINGS_TOPIC) as reader:
        await asyncio.gather(
            *(
                jobs.patch(f"/v1/jobs/{job_id}", json={"title": t}, headers=ADMIN_HEADERS)
                for t in titles
            )
        )
        final = (await jobs.get(f"/v1/jobs/{job_id}")).json()["title"]
        records = await read_until(
            reader, lambda r: r.key == job_id.encode() and final.encode() in r.value
        )
    # The last event published for the job carries the title the database ended with.
    mine = [r for r in records if r.key == job_id.encode()]
    assert final.encode() in mine[-1].value
