"""Posting the jobs the first flow needs: admin-only, validated, readable back."""

import uuid

import httpx
import pytest

from devsupport.services import ADMIN_HEADERS
from services.jobs.tests.helpers import post_job

pytestmark = pytest.mark.integration

VALID_JOB = {
    "title": "Clinical Research Coordinator",
    "category": "Research",
    "location": "Durham, NC",
    "description": "Coordinate oncology trials.",
}


async def test_posting_a_job_needs_the_admin_token(jobs: httpx.AsyncClient) -> None:
    response = await jobs.post("/v1/jobs", json=VALID_JOB)
    assert response.status_code == 401


async def test_posting_a_job_with_a_wrong_token_is_401(jobs: httpx.AsyncClient) -> None:
    response = await jobs.post(
        "/v1/jobs", json=VALID_JOB, headers={"Authorization": "Bearer not-the-token"}
    )
    assert response.status_code == 401


@pytest.mark.parametrize("body", [b"{not json", b'{"title": 5}'])
async def test_posting_a_job_without_the_token_is_401_whatever_the_body(
    jobs: httpx.AsyncClient, body: bytes
) -> None:
    response = await jobs.post(
        "/v1/jobs", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 401


async def test_posted_job_is_201_with_its_id_and_open(jobs: httpx.AsyncClient) -> None:
    job = await post_job(jobs, **VALID_JOB)
    assert uuid.UUID(job["job_id"])
    assert job["status"] == "open"
    assert job["title"] == VALID_JOB["title"]


async def test_posted_job_can_be_read_back(jobs: httpx.AsyncClient) -> None:
    job = await post_job(jobs, **VALID_JOB)
    response = await jobs.get(f"/v1/jobs/{job['job_id']}")
    assert response.status_code == 200
    assert response.json() == job


async def test_unknown_job_is_404(jobs: httpx.AsyncClient) -> None:
    assert (await jobs.get(f"/v1/jobs/{uuid.uuid4()}")).status_code == 404


async def test_job_missing_title_is_422_naming_it(jobs: httpx.AsyncClient) -> None:
    body = {k: v for k, v in VALID_JOB.items() if k != "title"}
    response = await jobs.post("/v1/jobs", json=body, headers=ADMIN_HEADERS)
    assert response.status_code == 422
    assert ["body", "title"] in [error["loc"] for error in response.json()["detail"]]


async def test_reused_requisition_id_is_409(jobs: httpx.AsyncClient) -> None:
    requisition = f"REQ-{uuid.uuid4().hex[:8]}"
    await post_job(jobs, requisition_id=requisition)
    response = await jobs.post(
        "/v1/jobs", json={**VALID_JOB, "requisition_id": requisition}, headers=ADMIN_HEADERS
    )
    assert response.status_code == 409
