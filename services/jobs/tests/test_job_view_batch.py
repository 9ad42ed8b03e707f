"""POST /v1/job-views/batch on the real broker and database: each event is checked on its own,
the valid views of known jobs reach Kafka and the recently-viewed projection, and the batch has
limits of its own (500 events, 256 KiB)."""

import json
import uuid
from typing import Any
from unittest.mock import ANY

import httpx
import pytest

from services.jobs.tests.helpers import new_visitor, post_job, wait_for_recently_viewed
from talent_shared.events import VIEWS_TOPIC
from tests.support.kafka import topic_reader

pytestmark = pytest.mark.integration

BATCH = "/v1/job-views/batch"


def view(visitor: str, job_id: str, **fields: Any) -> dict[str, Any]:
    return {"visitor_id": visitor, "job_id": job_id, **fields}


async def test_batch_of_valid_views_is_accepted_with_202_and_their_count(
    jobs: httpx.AsyncClient,
) -> None:
    job = await post_job(jobs)
    events = [view(new_visitor(), job["job_id"]) for _ in range(3)]
    response = await jobs.post(BATCH, json={"events": events})
    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": 3, "rejected": []}


async def test_mixed_batch_rejects_only_the_unknown_and_invalid_events(
    jobs: httpx.AsyncClient,
) -> None:
    job = await post_job(jobs)
    visitor = new_visitor()
    unknown_job = str(uuid.uuid4())
    events = [
        view(visitor, job["job_id"]),
        view(visitor, unknown_job),
        view("not a visitor id!", job["job_id"]),
        view(visitor, job["job_id"], viewed_at="2999-01-01T00:00:00Z"),
        "not an object",
        view(visitor, job["job_id"], viewed_at="2026-01-02T03:04:05Z"),
    ]
    response = await jobs.post(BATCH, json={"events": events})
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["accepted"] == 2
    assert [rejection["index"] for rejection in body["rejected"]] == [1, 2, 3, 4]


async def test_rejections_say_why_like_the_single_endpoint(jobs: httpx.AsyncClient) -> None:
    job = await post_job(jobs)
    unknown_job = str(uuid.uuid4())
    events = [
        view(new_visitor(), unknown_job),
        view("not a visitor id!", job["job_id"]),
        view(new_visitor(), job["job_id"], viewed_at="2999-01-01T00:00:00Z"),
        {"visitor_id": new_visitor()},
    ]
    response = await jobs.post(BATCH, json={"events": events})
    details = [rejection["detail"] for rejection in response.json()["rejected"]]
    assert details[0] == f"job {unknown_job} not found"
    assert details[1].startswith("visitor_id: String should match pattern")
    assert details[2] == "viewed_at: Value error, viewed_at lies in the future"
    assert details[3] == "job_id: Field required"


async def test_batch_of_only_rejected_events_is_202_with_nothing_accepted(
    jobs: httpx.AsyncClient,
) -> None:
    response = await jobs.post(BATCH, json={"events": [view(new_visitor(), str(uuid.uuid4()))]})
    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == 0


async def test_accepted_views_show_in_recently_viewed(jobs: httpx.AsyncClient) -> None:
    first, second = await post_job(jobs), await post_job(jobs)
    visitor = new_visitor()
    events = [
        view(visitor, first["job_id"], viewed_at="2026-01-01T00:00:00Z"),
        view(visitor, str(uuid.uuid4())),
        view(visitor, second["job_id"], viewed_at="2026-01-02T00:00:00Z"),
    ]
    response = await jobs.post(BATCH, json={"events": events})
    assert response.json()["accepted"] == 2
    expected = [second["job_id"], first["job_id"]]
    assert await wait_for_recently_viewed(jobs, visitor, expected) == expected


async def test_accepted_views_are_already_in_kafka_keyed_by_visitor(
    jobs: httpx.AsyncClient,
) -> None:
    job = await post_job(jobs)
    visitors = [new_visitor() for _ in range(5)]
    async with topic_reader(VIEWS_TOPIC) as reader:
        events = [view(visitor, job["job_id"]) for visitor in visitors]
        response = await jobs.post(BATCH, json={"events": events})
        assert response.status_code == 202
        records = await reader.getmany(timeout_ms=5000)
    keys = {record.key for batch in records.values() for record in batch}
    assert {visitor.encode() for visitor in visitors} <= keys


async def test_batch_sent_as_text_plain_is_accepted(jobs: httpx.AsyncClient) -> None:
    job = await post_job(jobs)
    visitor = new_visitor()
    response = await jobs.post(
        BATCH,
        content=json.dumps({"events": [view(visitor, job["job_id"])]}),
        headers={"Content-Type": "text/plain;charset=UTF-8"},
    )
    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == 1
    assert await wait_for_recently_viewed(jobs, visitor, [job["job_id"]]) == [job["job_id"]]


async def test_text_plain_batch_with_an_invalid_event_rejects_only_that_event(
    jobs: httpx.AsyncClient,
) -> None:
    job = await post_job(jobs)
    events = [view(new_visitor(), job["job_id"]), view("not a visitor id!", job["job_id"])]
    response = await jobs.post(
        BATCH, content=json.dumps({"events": events}), headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": 1, "rejected": [{"index": 1, "detail": ANY}]}


async def test_batch_answers_alike_whichever_json_media_type_it_comes_as(
    jobs: httpx.AsyncClient,
) -> None:
    job = await post_job(jobs)
    body = json.dumps({"events": [view(new_visitor(), job["job_id"])]})
    answers = [
        await jobs.post(BATCH, content=body, headers={"Content-Type": media_type})
        for media_type in ("application/json", "application/vnd.views+json")
    ]
    assert [(a.status_code, a.headers["content-type"], a.json()) for a in answers] == [
        (202, "application/json", {"accepted": 1, "rejected": []})
    ] * 2


async def test_text_plain_that_is_not_json_is_422(jobs: httpx.AsyncClient) -> None:
    response = await jobs.post(BATCH, content="views!", headers={"Content-Type": "text/plain"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], "body"),
        ({"views": []}, "events"),
        ({"events": "many"}, "events"),
        ({"events": []}, "events"),
    ],
    ids=["not-an-object", "no-events", "events-not-a-list", "no-event"],
)
async def test_body_without_a_list_of_events_is_422_naming_the_problem(
    jobs: httpx.AsyncClient, body: object, field: str
) -> None:
    response = await jobs.post(BATCH, json=body)
    assert response.status_code == 422, response.text
    assert any(field in error["loc"] for error in response.json()["detail"])


async def test_more_than_500_events_is_422(jobs: httpx.AsyncClient) -> None:
    job = await post_job(jobs)
    events = [view(new_visitor(), job["job_id"]) for _ in range(501)]
    response = await jobs.post(BATCH, json={"events": events})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "events"]


async def test_500_events_are_accepted(jobs: httpx.AsyncClient) -> None:
    job = await post_job(jobs)
    events = [view(new_visitor(), job["job_id"]) for _ in range(500)]
    response = await jobs.post(BATCH, json={"events": events})
    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": 500, "rejected": []}


async def test_body_over_64_kib_is_accepted_by_the_batch(jobs: httpx.AsyncClient) -> None:
    job = await post_job(jobs)
    events = [view(f"visitor-{'x' * 100}-{i}", job["job_id"]) for i in range(400)]
    body = json.dumps({"events": events})
    assert 64 * 1024 < len(body) < 256 * 1024
    response = await jobs.post(BATCH, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == 400


async def test_body_over_256_kib_is_413(jobs: httpx.AsyncClient) -> None:
    body = json.dumps({"events": [], "padding": "x" * (256 * 1024)})
    response = await jobs.post(BATCH, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert "262144" in response.json()["detail"]


async def test_body_over_256_kib_sent_chunked_is_413(jobs: httpx.AsyncClient) -> None:
    async def chunks() -> Any:
        for _ in range(5):
            yield b"x" * (64 * 1024)

    response = await jobs.post(
        BATCH, content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413


async def test_other_routes_keep_the_64_kib_limit(jobs: httpx.AsyncClient) -> None:
    body = json.dumps({"visitor_id": "v", "job_id": str(uuid.uuid4()), "pad": "x" * 70_000})
    response = await jobs.post(
        "/v1/job-views", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413


async def test_openapi_documents_the_batch_as_json_and_text_plain(
    jobs: httpx.AsyncClient,
) -> None:
    schema = (await jobs.get("/openapi.json")).json()
    operation = schema["paths"][BATCH]["post"]
    assert set(operation["requestBody"]["content"]) == {"application/json", "text/plain"}
    assert {"202", "413", "422", "503"} <= set(operation["responses"])
    assert operation["responses"]["413"]["description"] == "request body over 256 KiB"
