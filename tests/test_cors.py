"""Browser clients on other origins (CORS): a listed origin may call the public endpoints of
signup and jobs, preflight included; an unlisted origin gets no Access-Control-Allow-Origin; admin
endpoints never answer cross-origin requests. Services on the real broker and fresh databases."""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from pydantic import ValidationError

from devsupport.databases import fresh_database
from devsupport.services import ADMIN_HEADERS
from services.jobs.tests.helpers import new_visitor, post_job
from services.signup.tests.helpers import sign_up, token_for
from talent_jobs.app import create_app as create_jobs_app
from talent_jobs.settings import JobsSettings
from talent_shared.settings import ServiceSettings
from talent_shared.tokens import TokenPurpose
from talent_signup.app import create_app as create_signup_app
from talent_signup.settings import SignupSettings
from tests.robustness.test_security import ADMIN_OPERATIONS, AdminOperation
from tests.support.fixtures import running, settings_for_test

pytestmark = pytest.mark.integration

LISTED = "https://careers.example.org"
ALSO_LISTED = "http://localhost:3000"
UNLISTED = "https://evil.example.net"


@dataclass
class Services:
    signup: httpx.AsyncClient
    jobs: httpx.AsyncClient
    ids: dict[str, str]

    def client(self, service: str) -> httpx.AsyncClient:
        return self.signup if service == "signup" else self.jobs


@pytest.fixture(scope="module")
async def services(infrastructure: None) -> AsyncIterator[Services]:
    origins = {"cors_allowed_origins": f"{LISTED}, {ALSO_LISTED}/"}
    async with (
        fresh_database("signup") as signup_db,
        fresh_database("jobs") as jobs_db,
        running(
            create_signup_app(settings_for_test(SignupSettings, signup_db, **origins))
        ) as signup,
        running(create_jobs_app(settings_for_test(JobsSettings, jobs_db, **origins))) as jobs,
    ):
        candidate_id = (await sign_up(signup))["candidate_id"]
        job_id = (await post_job(jobs))["job_id"]
        ids = {
            "candidate_id": candidate_id,
            "job_id": job_id,
            "visitor_id": new_visitor(),
            "requisition_id": "CORS-CHECK",
        }
        yield Services(signup=signup, jobs=jobs, ids=ids)


@dataclass(frozen=True)
class PublicCall:
    service: str
    method: str
    path: str

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


# The contract's public endpoints, each with a request a page would send.
PUBLIC_CALLS = [
    PublicCall("jobs", "GET", "/v1/jobs"),
    PublicCall("jobs", "GET", "/v1/jobs/{job_id}"),
    PublicCall("jobs", "GET", "/v1/jobs/facets"),
    PublicCall("jobs", "POST", "/v1/job-views"),
    PublicCall("jobs", "POST", "/v1/job-views/batch"),
    PublicCall("jobs", "GET", "/v1/visitors/{visitor_id}/recently-viewed"),
    PublicCall("signup", "POST", "/v1/signups"),
    PublicCall("signup", "GET", "/v1/unsubscribe?token={unsubscribe_token}"),
    PublicCall("signup", "POST", "/v1/unsubscribe?token={unsubscribe_token}"),
    PublicCall("signup", "GET", "/v1/preferences?token={manage_token}"),
    PublicCall("signup", "PUT", "/v1/candidates/{candidate_id}/preferences?token={manage_token}"),
]


def body_of(call: PublicCall, ids: dict[str, str]) -> object:
    if call.path == "/v1/job-views":
        return {"visitor_id": ids["visitor_id"], "job_id": ids["job_id"]}
    if call.path == "/v1/job-views/batch":
        return {"events": [{"visitor_id": ids["visitor_id"], "job_id": ids["job_id"]}]}
    if call.path == "/v1/signups":
        return {
            "email": f"cors-{uuid.uuid4().hex[:10]}@example.org",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "alert_frequency": "weekly",
            "consent": True,
        }
    if call.method == "PUT":
        return {"interests": [], "locations": [], "keywords": ["ICU"], "alert_frequency": "daily"}
    return None


def url_of(path: str, ids: dict[str, str]) -> str:
    candidate = uuid.UUID(ids["candidate_id"])
    return path.format(
        **ids,
        manage_token=token_for(str(candidate), TokenPurpose.MANAGE),
        unsubscribe_token=token_for(str(candidate), TokenPurpose.UNSUBSCRIBE),
    )


async def call(services: Services, call: PublicCall, origin: str, **headers: str) -> httpx.Response:
    body = body_of(call, services.ids)
    return await services.client(call.service).request(
        call.method,
        url_of(call.path, services.ids),
        json=body,
        headers={"Origin": origin, **headers},
    )


async def preflight(
    client: httpx.AsyncClient, path: str, method: str, origin: str
) -> httpx.Response:
    return await client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "content-type",
        },
    )


def vary(response: httpx.Response) -> set[str]:
    return {value.strip() for value in response.headers.get("vary", "").split(",")}


# --------------------------------------------------------------------------- public endpoints


@pytest.mark.parametrize("public", PUBLIC_CALLS, ids=str)
async def test_listed_origin_may_call_a_public_endpoint(
    services: Services, public: PublicCall
) -> None:
    response = await call(services, public, LISTED)
    assert response.status_code < 300, response.text
    assert response.headers["access-control-allow-origin"] == LISTED
    assert "Origin" in vary(response)


@pytest.mark.parametrize("public", PUBLIC_CALLS, ids=str)
async def test_unlisted_origin_gets_no_allow_origin(services: Services, public: PublicCall) -> None:
    response = await call(services, public, UNLISTED)
    assert "access-control-allow-origin" not in response.headers


async def test_every_listed_origin_is_allowed_and_a_trailing_slash_is_ignored(
    services: Services,
) -> None:
    response = await services.jobs.get("/v1/jobs", headers={"Origin": ALSO_LISTED})
    assert response.headers["access-control-allow-origin"] == ALSO_LISTED


@pytest.mark.parametrize("public", PUBLIC_CALLS[:2], ids=str)
async def test_public_answer_varies_by_origin_even_without_one(
    services: Services, public: PublicCall
) -> None:
    response = await services.jobs.get(url_of(public.path, services.ids))
    assert response.status_code == 200
    assert "Origin" in vary(response)
    assert "access-control-allow-origin" not in response.headers


async def test_origin_is_matched_exactly(services: Services) -> None:
    for near_miss in (f"{LISTED}:8443", "http://careers.example.org", f"{LISTED}.evil.net"):
        response = await services.jobs.get("/v1/jobs", headers={"Origin": near_miss})
        assert "access-control-allow-origin" not in response.headers, near_miss


@pytest.mark.parametrize("public", PUBLIC_CALLS, ids=str)
async def test_preflight_of_a_public_endpoint_allows_the_method_and_content_type(
    services: Services, public: PublicCall
) -> None:
    client = services.client(public.service)
    response = await preflight(client, url_of(public.path, services.ids), public.method, LISTED)
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == LISTED
    assert public.method in response.headers["access-control-allow-methods"].split(", ")
    assert "content-type" in response.headers["access-control-allow-headers"].lower()
    assert response.headers["access-control-max-age"] == "600"
    assert "Origin" in vary(response)


async def test_preflight_from_an_unlisted_origin_gets_no_allow_origin(services: Services) -> None:
    response = await preflight(services.jobs, "/v1/job-views", "POST", UNLISTED)
    assert response.status_code != 405
    assert "access-control-allow-origin" not in response.headers


async def test_error_answers_of_a_public_endpoint_carry_cors_headers(services: Services) -> None:
    response = await services.jobs.get(f"/v1/jobs/{uuid.uuid4()}", headers={"Origin": LISTED})
    assert response.status_code == 404
    assert response.headers["access-control-allow-origin"] == LISTED


async def test_beacon_batch_as_text_plain_from_a_listed_origin_is_readable(
    services: Services,
) -> None:
    event = {"visitor_id": services.ids["visitor_id"], "job_id": services.ids["job_id"]}
    response = await services.jobs.post(
        "/v1/job-views/batch",
        content=f'{{"events": [{{"visitor_id": "{event["visitor_id"]}", '
        f'"job_id": "{event["job_id"]}"}}]}}',
        headers={"Origin": LISTED, "Content-Type": "text/plain;charset=UTF-8"},
    )
    assert response.status_code == 202, response.text
    assert response.headers["access-control-allow-origin"] == LISTED


# --------------------------------------------------------------------------- admin endpoints


def admin_request(operation: AdminOperation, ids: dict[str, str]) -> tuple[str, object]:
    path = operation.path.format(**ids)
    if operation.path == "/v1/candidates/{candidate_id}/preferences":
        return path, {"keywords": ["ICU"]}
    if operation.path == "/v1/jobs":
        return path, {"title": "T", "category": "C", "location": "L", "description": "D"}
    if operation.path == "/v1/jobs/{job_id}":
        return path, {"title": "Changed"}
    return path, None


SIGNUP_AND_JOBS_ADMIN = [op for op in ADMIN_OPERATIONS if op.service in ("signup", "jobs")]


@pytest.mark.parametrize("operation", SIGNUP_AND_JOBS_ADMIN, ids=str)
async def test_admin_endpoint_never_answers_a_listed_origin(
    services: Services, operation: AdminOperation
) -> None:
    path, body = admin_request(operation, services.ids)
    response = await services.client(operation.service).request(
        operation.method, path, json=body, headers={"Origin": LISTED, **ADMIN_HEADERS}
    )
    assert response.status_code < 500
    assert not any(name.startswith("access-control-") for name in response.headers)


@pytest.mark.parametrize("operation", SIGNUP_AND_JOBS_ADMIN, ids=str)
async def test_preflight_of_an_admin_endpoint_allows_nothing(
    services: Services, operation: AdminOperation
) -> None:
    path, _ = admin_request(operation, services.ids)
    client = services.client(operation.service)
    response = await preflight(client, path, operation.method, LISTED)
    assert not any(name.startswith("access-control-") for name in response.headers)


async def test_admin_endpoint_gets_no_cors_even_when_its_path_is_public_for_another_method(
    services: Services,
) -> None:
    # GET /v1/jobs is public, POST /v1/jobs is admin: the method decides.
    response = await preflight(services.jobs, "/v1/jobs", "POST", LISTED)
    assert "access-control-allow-origin" not in response.headers
    assert response.status_code == 405


async def test_operational_endpoints_get_no_cors(services: Services) -> None:
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        response = await services.jobs.get(path, headers={"Origin": LISTED})
        assert "access-control-allow-origin" not in response.headers, path


# --------------------------------------------------------------------------- configuration


async def test_no_origin_is_allowed_by_default(jobs: httpx.AsyncClient) -> None:
    response = await jobs.get("/v1/jobs", headers={"Origin": LISTED})
    assert "access-control-allow-origin" not in response.headers
    assert (await preflight(jobs, "/v1/job-views", "POST", LISTED)).status_code != 405


def test_cors_allowed_origins_is_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "CORS_ALLOWED_ORIGINS", " https://Careers.example.org/ ,http://localhost:3000"
    )
    assert ServiceSettings().cors_allowed_origins == (
        "https://careers.example.org",
        "http://localhost:3000",
    )


def test_cors_allowed_origins_is_empty_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CORS_ALLOWED_ORIGINS", raising=False)
    assert ServiceSettings().cors_allowed_origins == ()


@pytest.mark.parametrize("value", ["careers.example.org", "https://a.example/path", "*"])
def test_cors_allowed_origins_refuses_what_is_not_an_origin(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", value)
    with pytest.raises(ValidationError, match="CORS_ALLOWED_ORIGINS"):
        ServiceSettings()
