"""What the bad-input tests share: the endpoints, an HTTP client to the three services running
as processes that knows an existing candidate and job, and the checks of an error answer.

The contract: invalid bodies give 422 naming the field, bodies over 64 KiB 413, unknown paths and
ids 404, every error is JSON `{"detail": ...}`, and no request ever produces a 500. Text that is
valid, however unusual, is stored and read back exactly.
"""

import json
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from devsupport.services import ADMIN_HEADERS
from tests.robustness.stack import ProcessStack

MAX_BODY_BYTES = 64 * 1024
JSON_CONTENT = {"Content-Type": "application/json"}
VALUE = "__value__"


@dataclass(frozen=True)
class Endpoint:
    service: str
    method: str
    path: str  # may name {candidate_id} or {job_id}: ids that exist
    admin: bool = False

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


SIGN_UP = Endpoint("signup", "POST", "/v1/signups")
GET_CANDIDATE = Endpoint("signup", "GET", "/v1/candidates/{candidate_id}", admin=True)
PREFERENCES = Endpoint("signup", "PUT", "/v1/candidates/{candidate_id}/preferences", admin=True)
ERASE = Endpoint("signup", "DELETE", "/v1/candidates/{candidate_id}", admin=True)
UNSUBSCRIBE_PAGE = Endpoint("signup", "GET", "/v1/unsubscribe")
UNSUBSCRIBE = Endpoint("signup", "POST", "/v1/unsubscribe")
POST_JOB = Endpoint("jobs", "POST", "/v1/jobs", admin=True)
LIST_JOBS = Endpoint("jobs", "GET", "/v1/jobs")
GET_JOB = Endpoint("jobs", "GET", "/v1/jobs/{job_id}")
PATCH_JOB = Endpoint("jobs", "PATCH", "/v1/jobs/{job_id}", admin=True)
CLOSE_JOB = Endpoint("jobs", "POST", "/v1/jobs/{job_id}/close", admin=True)
JOB_VIEW = Endpoint("jobs", "POST", "/v1/job-views")
RECENTLY_VIEWED = Endpoint("jobs", "GET", "/v1/visitors/{visitor_id}/recently-viewed")
DELIVERIES = Endpoint("notifications", "GET", "/v1/deliveries", admin=True)

JSON_ENDPOINTS = [SIGN_UP, PREFERENCES, POST_JOB, PATCH_JOB, JOB_VIEW]


class Api:
    """An HTTP client to the running stack that knows one existing candidate and one job.

    Every request opens a connection of its own: after a 500 uvicorn closes the connection,
    and a reused one would fail the next, innocent request.
    """

    def __init__(self, services: ProcessStack) -> None:
        self.services = services
        self.http = httpx.Client(timeout=15, limits=httpx.Limits(max_keepalive_connections=0))
        self.ids = {"candidate_id": "", "job_id": "", "visitor_id": "robustness-visitor"}
        self.ids["candidate_id"] = self.sign_up_json(self.valid_body(SIGN_UP))["candidate_id"]
        job = self.call(POST_JOB, json=self.valid_body(POST_JOB))
        assert job.status_code == 201, job.text
        self.ids["job_id"] = job.json()["job_id"]

    def url(self, endpoint: Endpoint, **ids: str) -> str:
        return self.services.url(endpoint.service) + endpoint.path.format(**{**self.ids, **ids})

    def call(
        self, endpoint: Endpoint, *, headers: dict[str, Any] | None = None, **kwargs: Any
    ) -> httpx.Response:
        sent = {**(ADMIN_HEADERS if endpoint.admin else {}), **(headers or {})}
        ids = kwargs.pop("ids", {})
        return self.http.request(endpoint.method, self.url(endpoint, **ids), headers=sent, **kwargs)

    def call_json(self, endpoint: Endpoint, body: bytes | str, **kwargs: Any) -> httpx.Response:
        """Send ``body`` exactly as given, as a JSON request body."""
        return self.call(endpoint, content=body, headers=JSON_CONTENT, **kwargs)

    def valid_body(self, endpoint: Endpoint) -> dict[str, Any]:
        if endpoint == SIGN_UP:
            return {
                "email": f"robust-{uuid.uuid4().hex[:12]}@example.org",
                "first_name": "Grace",
                "last_name": "Hopper",
                "interests": ["Nursing"],
                "locations": ["Durham"],
                "keywords": ["ICU"],
                "alert_frequency": "weekly",
                "consent": True,
            }
        if endpoint == PREFERENCES:
            return {"interests": [], "locations": [], "keywords": [], "alert_frequency": "daily"}
        if endpoint == POST_JOB:
            return {
                "title": "Registered Nurse",
                "category": "Nursing",
                "location": "Durham, NC",
                "description": "Night shift on a medical unit.",
            }
        if endpoint == PATCH_JOB:
            return {"description": "Day shift on a medical unit."}
        if endpoint == JOB_VIEW:
            return {"visitor_id": "robustness-visitor", "job_id": self.ids["job_id"]}
        raise AssertionError(f"{endpoint} takes no JSON body")

    def body_with(self, endpoint: Endpoint, field: str, fragment: str) -> str:
        """A valid body of ``endpoint`` whose ``field`` (``name[]``: its one list item) is the
        raw JSON text ``fragment``."""
        body = self.valid_body(endpoint)
        name = field.removesuffix("[]")
        body[name] = [VALUE] if field.endswith("[]") else VALUE
        return json.dumps(body).replace(json.dumps(VALUE), fragment)

    def sign_up_json(self, body: dict[str, Any]) -> dict[str, Any]:
        response = self.call(SIGN_UP, json=body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def candidate(self, candidate_id: str) -> dict[str, Any]:
        response = self.call(GET_CANDIDATE, ids={"candidate_id": candidate_id})
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    def post_job(self, **fields: str) -> dict[str, Any]:
        response = self.call(POST_JOB, json={**self.valid_body(POST_JOB), **fields})
        assert response.status_code == 201, response.text
        job: dict[str, Any] = response.json()
        return job

    def job(self, job_id: str) -> dict[str, Any]:
        response = self.call(GET_JOB, ids={"job_id": job_id})
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    def close(self) -> None:
        self.http.close()


def assert_json_error(response: httpx.Response, status: int | range) -> None:
    """The status (or one of a range), and a JSON body `{"detail": ...}`: never a 500."""
    expected = status if isinstance(status, range) else range(status, status + 1)
    assert response.status_code in expected, f"{response.status_code}: {response.text[:2000]}"
    assert response.headers["content-type"].startswith("application/json"), response.headers
    assert "detail" in response.json(), response.text


def assert_422_naming(response: httpx.Response, field: str) -> None:
    assert_json_error(response, 422)
    errors = response.json()["detail"]
    assert any(field in error["loc"] for error in errors), errors


CLIENT_ERROR = range(400, 500)
