"""The first flow, end to end on the real broker and database:
POST /v1/job-views -> JobViewed on jobs.views.v1 -> the recently-viewed projection."""

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

import httpx
import pytest
from pydantic import StringConstraints, TypeAdapter

from services.jobs.tests.helpers import (
    new_visitor,
    post_job,
    recently_viewed_ids,
    wait_for_recently_viewed,
)
from talent_jobs import api
from talent_jobs.models import RecentlyViewed, RecentlyViewedJob
from talent_shared.envelope import new_event
from talent_shared.events import VIEWS_TOPIC, JobViewed
from tests.support.kafka import raw_producer, topic_reader

pytestmark = pytest.mark.integration


async def test_posted_view_is_accepted_with_202(jobs: httpx.AsyncClient) -> None:
    job = await post_job(jobs)
    response = await jobs.post(
        "/v1/job-views", json={"visitor_id": new_visitor(), "job_id": job["job_id"]}
    )
    assert response.status_code == 202
    assert response.json()["status"] == "accepted"


async def test_accepted_view_is_already_in_kafka(jobs: httpx.AsyncClient) -> None:
    job = await post_job(jobs)
    visitor = new_visitor()
    async with topic_reader(VIEWS_TOPIC) as reader:
        response = await jobs.post(
            "/v1/job-views", json={"visitor_id": visitor, "job_id": job["job_id"]}
        )
        assert response.status_code == 202
        records = await reader.getmany(timeout_ms=5000)
    values = [record.value for batch in records.values() for record in batch]
    assert any(response.json()["event_id"].encode() in value for value in values)


async def test_view_keyed_by_visitor_with_event_type_header(jobs: httpx.AsyncClient) -> None:
    job = await post_job(jobs)
    visitor = new_visitor()
    async with topic_reader(VIEWS_TOPIC) as reader:
        await jobs.post("/v1/job-views", json={"visitor_id": visitor, "job_id": job["job_id"]})
        records = await reader.getmany(timeout_ms=5000)
    mine = [r for batch in records.values() for r in batch if r.key == visitor.encode()]
    assert len(mine) == 1
    assert ("event_type", b"JobViewed") in mine[0].headers


async def test_view_answers_alike_whichever_json_media_type_it_comes_as(
    jobs: httpx.AsyncClient,
) -> None:
    job = await post_job(jobs)
    body = json.dumps({"visitor_id": new_visitor(), "job_id": job["job_id"]})
    answers = [
        await jobs.post("/v1/job-views", content=body, headers={"Content-Type": media_type})
        for media_type in ("application/json", "application/vnd.views+json")
    ]
    assert [(a.status_code, a.headers["content-type"], sorted(a.json())) for a in answers] == [
        (202, "application/json", ["event_id", "status"])
    ] * 2


async def test_view_shows_up_in_recently_viewed(jobs: httpx.AsyncClient) -> None:
    job = await post_job(jobs)
    visitor = new_visitor()
    await jobs.post("/v1/job-views", json={"visitor_id": visitor, "job_id": job["job_id"]})
    assert await wait_for_recently_viewed(jobs, visitor, [job["job_id"]]) == [job["job_id"]]


async def test_recently_viewed_item_has_contract_fields(jobs: httpx.AsyncClient) -> None:
    job = await post_job(jobs, title="Pharmacist", category="Pharmacy", location="Raleigh, NC")
    visitor = new_visitor()
    viewed_at = "2026-01-02T03:04:05+00:00"
    await jobs.post(
        "/v1/job-views",
        json={"visitor_id": visitor, "job_id": job["job_id"], "viewed_at": viewed_at},
    )
    await wait_for_recently_viewed(jobs, visitor, [job["job_id"]])
    body = (await jobs.get(f"/v1/visitors/{visitor}/recently-viewed")).json()
    assert body["visitor_id"] == visitor
    item = body["items"][0]
    assert item == {
        "job_id": job["job_id"],
        "title": "Pharmacist",
        "location": "Raleigh, NC",
        "category": "Pharmacy",
        "viewed_at": "2026-01-02T03:04:05Z",
    }


async def _only_item_body(jobs: httpx.AsyncClient, job: dict[str, str], viewed_at: str) -> str:
    """The raw body of GET recently-viewed for a new visitor who viewed ``job`` once."""
    visitor = new_visitor()
    await jobs.post(
        "/v1/job-views",
        json={"visitor_id": visitor, "job_id": job["job_id"], "viewed_at": viewed_at},
    )
    await wait_for_recently_viewed(jobs, visitor, [job["job_id"]])
    response = await jobs.get(f"/v1/visitors/{visitor}/recently-viewed")
    assert response.headers["content-type"] == "application/json"
    return response.text


def _model_json(body: str, job: dict[str, str], viewed_at: datetime) -> str:
    """What the RecentlyViewed response model writes for that visitor and job."""
    item = RecentlyViewedJob(**{**job, "viewed_at": viewed_at})
    return RecentlyViewed(visitor_id=json.loads(body)["visitor_id"], items=[item]).model_dump_json()


async def test_recently_viewed_writes_microseconds_like_the_response_model(
    jobs: httpx.AsyncClient,
) -> None:
    job = await post_job(jobs)
    viewed_at = datetime(2026, 1, 2, 3, 4, 5, 120, tzinfo=UTC)
    body = await _only_item_body(jobs, job, viewed_at.isoformat())
    assert json.loads(body)["items"][0]["viewed_at"] == "2026-01-02T03:04:05.000120Z"
    assert body == _model_json(body, job, viewed_at)


async def test_recently_viewed_escapes_text_like_the_response_model(
    jobs: httpx.AsyncClient,
) -> None:
    # Control characters are refused at the edge (contract: text hygiene), so none here.
    job = await post_job(jobs, title='Nurse "Nights" \\ ICU Zürich 😀 </script> \u00e9')
    viewed_at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    body = await _only_item_body(jobs, job, viewed_at.isoformat())
    assert json.loads(body)["items"][0]["title"] == job["title"]
    assert body == _model_json(body, job, viewed_at)


async def test_recently_viewed_is_distinct_and_most_recent_first(jobs: httpx.AsyncClient) -> None:
    first, second, third = [await post_job(jobs) for _ in range(3)]
    visitor = new_visitor()
    base = datetime(2026, 3, 1, tzinfo=UTC)
    for minutes, job in [(1, first), (2, second), (3, third), (4, first)]:
        response = await jobs.post(
            "/v1/job-views",
            json={
                "visitor_id": visitor,
                "job_id": job["job_id"],
                "viewed_at": (base + timedelta(minutes=minutes)).isoformat(),
            },
        )
        assert response.status_code == 202
    expected = [first["job_id"], third["job_id"], second["job_id"]]
    assert await wait_for_recently_viewed(jobs, visitor, expected) == expected


async def test_recently_viewed_honours_limit(jobs: httpx.AsyncClient) -> None:
    posted = [await post_job(jobs) for _ in range(4)]
    visitor = new_visitor()
    base = datetime(2026, 3, 1, tzinfo=UTC)
    for minutes, job in enumerate(posted):
        await jobs.post(
            "/v1/job-views",
            json={
                "visitor_id": visitor,
                "job_id": job["job_id"],
                "viewed_at": (base + timedelta(minutes=minutes)).isoformat(),
            },
        )
    newest_two = [posted[3]["job_id"], posted[2]["job_id"]]
    await wait_for_recently_viewed(jobs, visitor, [j["job_id"] for j in reversed(posted)])
    assert await recently_viewed_ids(jobs, visitor, limit=2) == newest_two


# Limits and visitor ids FastAPI takes, refuses or reads leniently; the fast path must agree.
LIMIT_QUERIES = ["", "?limit=1", "?limit=05", "?limit=+2", "?limit=%202", "?limit=2.0", "?limit=0"]
LIMIT_QUERIES += ["?limit=51", "?limit=abc", "?limit=", "?limit=1&limit=3", "?limit=1e1"]
BAD_VISITORS = ["bad%20visitor", "x" * 129, "caf%C3%A9"]
# No visitor id is empty (the route would not match), so this one refuses every request.
FAST_PATH_OFF = TypeAdapter(Annotated[str, StringConstraints(max_length=0)])


async def test_recently_viewed_answers_alike_on_the_fast_path_and_through_fastapi(
    jobs: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    posted = [await post_job(jobs) for _ in range(3)]
    visitor = new_visitor()
    for job in posted:
        await jobs.post("/v1/job-views", json={"visitor_id": visitor, "job_id": job["job_id"]})
    await wait_for_recently_viewed(jobs, visitor, [job["job_id"] for job in reversed(posted)])
    paths = [f"/v1/visitors/{visitor}/recently-viewed{query}" for query in LIMIT_QUERIES]
    paths += [f"/v1/visitors/{bad}/recently-viewed" for bad in BAD_VISITORS]

    async def answers() -> list[tuple[int, str, str]]:
        responses = [await jobs.get(path) for path in paths]
        return [(r.status_code, r.headers["content-type"], r.text) for r in responses]

    fast = await answers()
    monkeypatch.setattr(api, "VISITOR_ID", FAST_PATH_OFF)
    assert await answers() == fast
    assert {status for status, _, _ in fast} == {200, 422}


async def test_duplicate_and_out_of_order_deliveries_give_the_same_list(
    jobs: httpx.AsyncClient,
) -> None:
    """Views published straight to Kafka, late and twice, end in the same projection."""
    older, newer = await post_job(jobs), await post_job(jobs)
    visitor = new_visitor()
    base = datetime(2026, 4, 1, tzinfo=UTC)
    view_newer = new_event(
        JobViewed(visitor_id=visitor, job_id=newer["job_id"], viewed_at=base + timedelta(hours=2)),
        producer="test",
    )
    view_older_late = new_event(
        JobViewed(visitor_id=visitor, job_id=older["job_id"], viewed_at=base + timedelta(hours=1)),
        producer="test",
    )
    stale_view_of_newer = new_event(
        JobViewed(visitor_id=visitor, job_id=newer["job_id"], viewed_at=base),
        producer="test",
    )
    async with raw_producer() as producer:
        # Newest first, then a late older view, then the newest again (a redelivery),
        # then a stale view of the same job that must not move it back.
        for event in (view_newer, view_older_late, view_newer, stale_view_of_newer):
            await producer.send_and_wait(VIEWS_TOPIC, event.to_bytes(), key=visitor.encode())
    expected = [newer["job_id"], older["job_id"]]
    assert await wait_for_recently_viewed(jobs, visitor, expected) == expected
    body = (await jobs.get(f"/v1/visitors/{visitor}/recently-viewed")).json()
    assert body["items"][0]["viewed_at"] == "2026-04-01T02:00:00Z"


async def test_unknown_visitor_gets_empty_list(jobs: httpx.AsyncClient) -> None:
    response = await jobs.get(f"/v1/visitors/{new_visitor()}/recently-viewed")
    assert response.status_code == 200
    assert response.json()["items"] == []


async def test_view_of_unknown_job_is_404(jobs: httpx.AsyncClient) -> None:
    response = await jobs.post(
        "/v1/job-views", json={"visitor_id": new_visitor(), "job_id": str(uuid.uuid4())}
    )
    assert response.status_code == 404
    assert "not found" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"job_id": "00000000-0000-0000-0000-000000000000"}, "visitor_id"),
        ({"visitor_id": "v1"}, "job_id"),
        ({"visitor_id": "v1", "job_id": "not-a-uuid"}, "job_id"),
        ({"visitor_id": "", "job_id": "00000000-0000-0000-0000-000000000000"}, "visitor_id"),
        (
            {
                "visitor_id": "v1",
                "job_id": "00000000-0000-0000-0000-000000000000",
                "viewed_at": "2999-01-01T00:00:00Z",
            },
            "viewed_at",
        ),
    ],
)
async def test_invalid_view_is_422_naming_the_field(
    jobs: httpx.AsyncClient, body: dict[str, str], field: str
) -> None:
    response = await jobs.post("/v1/job-views", json=body)
    assert response.status_code == 422
    assert field in [error["loc"][-1] for error in response.json()["detail"]]


async def test_limit_above_fifty_is_422(jobs: httpx.AsyncClient) -> None:
    response = await jobs.get(f"/v1/visitors/{new_visitor()}/recently-viewed", params={"limit": 51})
    assert response.status_code == 422


async def test_malformed_json_is_422_not_500(jobs: httpx.AsyncClient) -> None:
    response = await jobs.post(
        "/v1/job-views", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422


async def test_oversized_body_is_413(jobs: httpx.AsyncClient) -> None:
    response = await jobs.post(
        "/v1/job-views",
        content=b'{"visitor_id": "' + b"x" * 70_000 + b'"}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413


async def test_openapi_documents_recently_viewed_with_its_response_model(
    jobs: httpx.AsyncClient,
) -> None:
    schema = (await jobs.get("/openapi.json")).json()
    operation = schema["paths"]["/v1/visitors/{visitor_id}/recently-viewed"]["get"]
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/RecentlyViewed"}
