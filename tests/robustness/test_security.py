"""Admin endpoints refuse every credential but the admin bearer token, the token is compared in
constant time, and no log line of any service (at LOG_LEVEL=DEBUG) carries an email address, a
phone number, a signed link token or a bearer token.
"""

import asyncio
import base64
import contextlib
import hmac
import inspect
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Iterator
from dataclasses import dataclass
from typing import Any
from unittest import mock

import httpx
import pytest

from devsupport.services import ADMIN_HEADERS
from talent_shared.http import auth as shared_http
from talent_shared.settings import DEVELOPMENT_ADMIN_TOKEN, DEVELOPMENT_TOKEN_SECRET
from talent_shared.tokens import TokenPurpose, make_token
from tests.robustness.stack import SERVICES, ProcessStack, process_stack
from tests.support.smtp import SmtpServer

pytestmark = [pytest.mark.robustness, pytest.mark.integration]


@dataclass(frozen=True)
class AdminOperation:
    service: str
    method: str
    path: str  # {candidate_id} / {job_id}: ids that exist, so only the credentials are wrong

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


# From the contract; test_the_openapi_documents_exactly_these_admin_operations keeps it complete.
ADMIN_OPERATIONS = [
    AdminOperation("signup", "GET", "/v1/candidates/{candidate_id}"),
    AdminOperation("signup", "PUT", "/v1/candidates/{candidate_id}/preferences"),
    AdminOperation("signup", "DELETE", "/v1/candidates/{candidate_id}"),
    AdminOperation("jobs", "POST", "/v1/jobs"),
    AdminOperation("jobs", "PATCH", "/v1/jobs/{job_id}"),
    AdminOperation("jobs", "POST", "/v1/jobs/{job_id}/close"),
    AdminOperation("jobs", "PUT", "/v1/jobs/by-requisition/{requisition_id}"),
    AdminOperation("jobs", "POST", "/v1/jobs/sync"),
    AdminOperation("notifications", "GET", "/v1/deliveries"),
    AdminOperation("notifications", "POST", "/v1/email-feedback"),
]

WRONG_CREDENTIALS: dict[str, dict[str, str]] = {
    "missing": {},
    "wrong-token": {"Authorization": "Bearer not-the-admin-token"},
    "token-in-other-case": {"Authorization": f"Bearer {DEVELOPMENT_ADMIN_TOKEN.upper()}"},
    "token-prefix": {"Authorization": f"Bearer {DEVELOPMENT_ADMIN_TOKEN[:-1]}"},
    "token-with-suffix": {"Authorization": f"Bearer {DEVELOPMENT_ADMIN_TOKEN}x"},
    "basic-auth": {
        "Authorization": "Basic "
        + base64.b64encode(f"admin:{DEVELOPMENT_ADMIN_TOKEN}".encode()).decode()
    },
    "token-without-scheme": {"Authorization": DEVELOPMENT_ADMIN_TOKEN},
    # "Bearer " on the wire: servers strip trailing whitespace, and httpx refuses to send it.
    "empty-bearer": {"Authorization": "Bearer"},
    "bearer-of-empty-quotes": {"Authorization": 'Bearer ""'},
    "token-in-another-header": {"X-Admin-Token": DEVELOPMENT_ADMIN_TOKEN},
}

JOB = {
    "title": "Charge Nurse",
    "category": "Nursing",
    "location": "Raleigh, NC",
    "description": "Leads the night shift.",
}


@dataclass
class Traffic:
    """What the log scan looks for: every secret and piece of personal data sent."""

    emails: list[str]
    phone: str
    link_tokens: list[str]
    bearer_tokens: list[str]


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture(scope="module")
async def services(
    infrastructure: None, tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer
) -> AsyncIterator[ProcessStack]:
    async with process_stack(
        tmp_path_factory.mktemp("security-logs"),
        SMTP_PORT=str(smtp.port),
        DELIVERY_POLL_SECONDS="0.2",
        DELIVERY_RETRY_BASE_SECONDS="0.2",
        DELIVERY_RETRY_MAX_SECONDS="1",
        # A delivery that keeps failing is logged as failed, with its error, within the test.
        DELIVERY_MAX_ATTEMPTS="2",
    ) as stack:
        yield stack


@pytest.fixture(scope="module")
async def http() -> AsyncIterator[httpx.AsyncClient]:
    # A connection of its own per request: a 500 makes uvicorn close the connection it used.
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=15, limits=limits) as client:
        yield client


async def sign_up(
    http: httpx.AsyncClient, services: ProcessStack, email: str, **fields: Any
) -> str:
    body = {
        "email": email,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "interests": ["Nursing"],
        "locations": [],
        "keywords": [],
        "alert_frequency": "instant",
        "consent": True,
        **fields,
    }
    response = await http.post(f"{services.url('signup')}/v1/signups", json=body)
    assert response.status_code in (200, 201), response.text
    candidate_id: str = response.json()["candidate_id"]
    return candidate_id


@pytest.fixture(scope="module")
async def ids(http: httpx.AsyncClient, services: ProcessStack) -> dict[str, str]:
    """An existing candidate and job, so refused requests are otherwise valid."""
    candidate_id = await sign_up(http, services, f"admin-target-{uuid.uuid4().hex[:8]}@example.org")
    job = await http.post(f"{services.url('jobs')}/v1/jobs", json=JOB, headers=ADMIN_HEADERS)
    assert job.status_code == 201, job.text
    return {
        "candidate_id": candidate_id,
        "job_id": job.json()["job_id"],
        "requisition_id": REQUISITION,
    }


REQUISITION = "SECURITY-CHECK"
A_MESSAGE = b"Subject: not a report\r\n\r\nHello\r\n"


def request_of(operation: AdminOperation, ids: dict[str, str]) -> dict[str, Any]:
    """Everything but the credentials of a valid request to ``operation``."""
    arguments: dict[str, Any] = {}
    if operation.path == "/v1/email-feedback":
        arguments |= {"content": A_MESSAGE, "headers": {"Content-Type": "message/rfc822"}}
    elif operation.method in ("POST", "PUT", "PATCH") and not operation.path.endswith("/close"):
        arguments["json"] = {
            "/v1/candidates/{candidate_id}/preferences": {"keywords": ["ICU"]},
            "/v1/jobs": JOB,
            "/v1/jobs/{job_id}": {"title": "Changed by an intruder"},
            "/v1/jobs/by-requisition/{requisition_id}": JOB,
            "/v1/jobs/sync": {"jobs": [{**JOB, "requisition_id": REQUISITION}]},
        }[operation.path]
    if operation.path == "/v1/deliveries":
        arguments["params"] = {"email": "someone@example.org"}
    return arguments


def send(
    http: httpx.AsyncClient,
    url: str,
    operation: AdminOperation,
    ids: dict[str, str],
    **headers: str,
) -> Awaitable[httpx.Response]:
    arguments = request_of(operation, ids)
    merged = {**arguments.pop("headers", {}), **headers}
    return http.request(operation.method, url, headers=merged, **arguments)


def url_of(services: ProcessStack, operation: AdminOperation, ids: dict[str, str]) -> str:
    return services.url(operation.service) + operation.path.format(**ids)


# --------------------------------------------------------------------------- admin auth


@pytest.mark.parametrize("headers", WRONG_CREDENTIALS.values(), ids=WRONG_CREDENTIALS.keys())
@pytest.mark.parametrize("operation", ADMIN_OPERATIONS, ids=str)
async def test_admin_operation_refuses_anything_but_the_admin_token_with_401(
    http: httpx.AsyncClient,
    services: ProcessStack,
    ids: dict[str, str],
    operation: AdminOperation,
    headers: dict[str, str],
) -> None:
    response = await send(http, url_of(services, operation, ids), operation, ids, **headers)
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert isinstance(response.json()["detail"], str)


async def test_refused_admin_requests_changed_nothing(
    http: httpx.AsyncClient, services: ProcessStack, ids: dict[str, str]
) -> None:
    candidate = await http.get(
        f"{services.url('signup')}/v1/candidates/{ids['candidate_id']}", headers=ADMIN_HEADERS
    )
    assert candidate.status_code == 200, candidate.text
    assert candidate.json()["preferences"]["keywords"] == []
    job = (await http.get(f"{services.url('jobs')}/v1/jobs/{ids['job_id']}")).json()
    assert (job["title"], job["status"]) == (JOB["title"], "open")


@pytest.mark.parametrize("operation", ADMIN_OPERATIONS, ids=str)
async def test_admin_operation_lets_the_admin_token_through(
    http: httpx.AsyncClient, services: ProcessStack, operation: AdminOperation
) -> None:
    """The control: the same requests pass the check with the token (unknown ids: nothing
    existing is changed; the feed holds only this test's requisition), so the 401s above are
    the token check, not a broken request."""
    unknown = {
        "candidate_id": str(uuid.uuid4()),
        "job_id": str(uuid.uuid4()),
        "requisition_id": REQUISITION,
    }
    url = url_of(services, operation, unknown)
    response = await send(http, url, operation, unknown, **ADMIN_HEADERS)
    assert response.status_code in (200, 201, 202, 404), response.text


@pytest.mark.parametrize("service", SERVICES)
async def test_the_openapi_documents_exactly_these_admin_operations(
    http: httpx.AsyncClient, services: ProcessStack, service: str
) -> None:
    schema = (await http.get(f"{services.url(service)}/openapi.json")).json()
    secured = {
        f"{method.upper()} {path}"
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if operation.get("security")
    }
    assert secured == {str(op) for op in ADMIN_OPERATIONS if op.service == service}


@pytest.mark.parametrize(
    ("presented", "expected", "matches"),
    [
        ("s3cret-token", "s3cret-token", True),
        ("", "s3cret-token", False),  # no Authorization header: nothing presented
        (" ", "s3cret-token", False),
        ("S3CRET-TOKEN", "s3cret-token", False),
        ("s3cret-toke", "s3cret-token", False),
        ("s3cret-token ", "s3cret-token", False),
        ("s3cret-tokén", "s3cret-token", False),
        (" ", "", False),  # no token configured: nobody is admin
        ("", "", False),
    ],
    ids=[
        "same",
        "none",
        "empty",
        "other-case",
        "prefix",
        "trailing-space",
        "non-ascii",
        "empty-expected-empty-presented",
        "empty-expected-none-presented",
    ],
)
def test_admin_token_matches_only_the_exact_token(
    presented: str, expected: str, matches: bool
) -> None:
    assert shared_http.admin_token_matches(presented, expected) is matches


def test_admin_token_is_compared_in_constant_time() -> None:
    assert "compare_digest" in inspect.getsource(shared_http.admin_token_matches)
    with mock.patch.object(hmac, "compare_digest", wraps=hmac.compare_digest) as compare:
        assert shared_http.admin_token_matches("a-token", "a-token")
    compare.assert_called_once_with(b"a-token", b"a-token")


def test_every_admin_check_goes_through_admin_token_matches() -> None:
    from talent_signup import links

    assert "admin_token_matches(" in inspect.getsource(shared_http.is_admin)
    assert "is_admin(" in inspect.getsource(shared_http.require_admin)
    assert "is_admin(" in inspect.getsource(links.may_manage)


# --------------------------------------------------------------------------- logs


async def wait_for_welcome(smtp: SmtpServer, email: str, timeout: float) -> bool:
    return bool(await smtp.wait_for(email, 1, timeout=timeout))


@pytest.fixture(scope="module")
async def traffic(
    http: httpx.AsyncClient, services: ProcessStack, smtp: SmtpServer, ids: dict[str, str]
) -> Traffic:
    """Normal traffic (and a few refused requests) carrying personal data and secrets, handled
    by all three services, then a moment for the last log lines to be written."""
    signup, jobs, notifications = (services.url(name) for name in SERVICES)
    marker = uuid.uuid4().hex[:10]

    # Consumer groups start at the end of the topics once they have partitions: sign up
    # canaries until notifications has taken one, so the traffic below is consumed too.
    deadline = time.monotonic() + 60
    canaries: list[str] = []
    while True:
        canaries.append(f"canary-{marker}-{len(canaries)}@example.org")
        await sign_up(http, services, canaries[-1])
        if await wait_for_welcome(smtp, canaries[-1], timeout=3):
            break
        assert time.monotonic() < deadline, "notifications never consumed a sign-up"

    email = f"Log.Scan-{marker}@Example.ORG"
    unicode_email = f"log-scan-{marker}.zoe@bücher-{marker}.example"  # an internationalised domain
    erased_email = f"erase-me-{marker}@example.org"
    phone = f"+1 919 555 {int(marker[:6], 16) % 10_000:04d}"
    candidate_id = await sign_up(http, services, email, phone=phone, visitor_id=f"visitor-{marker}")
    await sign_up(http, services, email.lower(), keywords=["ICU"])  # the same candidate again
    await sign_up(http, services, unicode_email)
    erased_id = await sign_up(http, services, erased_email)
    unsubscribe = make_token(
        DEVELOPMENT_TOKEN_SECRET, TokenPurpose.UNSUBSCRIBE, uuid.UUID(erased_id)
    )
    manage = make_token(DEVELOPMENT_TOKEN_SECRET, TokenPurpose.MANAGE, uuid.UUID(candidate_id))
    wrong_bearer = f"wrong-bearer-{marker}"

    admin = {"headers": ADMIN_HEADERS}
    wrong = {"headers": {"Authorization": f"Bearer {wrong_bearer}"}}
    # (method, url, arguments, the status it must get; None: whatever it is)
    requests: list[tuple[str, str, dict[str, Any], int | None]] = [
        ("GET", f"{signup}/v1/candidates/{candidate_id}", admin, 200),
        (
            "PUT",
            f"{signup}/v1/candidates/{candidate_id}/preferences",
            {"params": {"token": manage}, "json": {"keywords": ["ICU", "Cardiac"]}},
            200,
        ),
        ("GET", f"{signup}/v1/unsubscribe", {"params": {"token": unsubscribe}}, 200),
        (
            "POST",
            f"{signup}/v1/unsubscribe",
            {"params": {"token": unsubscribe}, "data": {"List-Unsubscribe": "One-Click"}},
            200,
        ),
        ("POST", f"{signup}/v1/unsubscribe", {"params": {"token": unsubscribe + "x"}}, 400),
        ("GET", f"{signup}/v1/candidates/{candidate_id}", wrong, 401),
        # Refused and failing sign-ups carry the address too.
        ("POST", f"{signup}/v1/signups", {"json": {"email": email, "consent": False}}, 422),
        (
            "POST",
            f"{signup}/v1/signups",
            {"json": {"email": email, "first_name": "A\u0000", "last_name": "B", "consent": True}},
            None,
        ),
        ("POST", f"{jobs}/v1/jobs", {**admin, "json": JOB}, 201),
        ("GET", f"{jobs}/v1/jobs/{ids['job_id']}", admin, 200),
        ("GET", f"{notifications}/v1/deliveries", {**admin, "params": {"email": email}}, 200),
        ("GET", f"{notifications}/v1/deliveries", {**wrong, "params": {"email": email}}, 401),
        ("DELETE", f"{signup}/v1/candidates/{erased_id}", admin, 204),
    ]
    for method, url, arguments, expected in requests:
        response = await http.request(method, url, **arguments)
        assert expected in (None, response.status_code), f"{method} {url}: {response.text}"

    assert await wait_for_welcome(smtp, email.lower(), timeout=20), "no welcome email was sent"
    # The test SMTP server refuses the internationalised address (no SMTPUTF8): wait for that
    # delivery to be given up, so its failure, and the error it logs, are in the logs.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        response = await http.get(
            f"{notifications}/v1/deliveries", params={"email": unicode_email}, headers=ADMIN_HEADERS
        )
        assert response.status_code == 200, response.text
        items = response.json()["items"]
        if items and all(item["status"] != "pending" for item in items):
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(1)  # the last log lines (erasure, failures) are written
    return Traffic(
        emails=[email, unicode_email, erased_email, *canaries],
        phone=phone,
        link_tokens=[unsubscribe, manage],
        bearer_tokens=[DEVELOPMENT_ADMIN_TOKEN, wrong_bearer],
    )


def leaks_in(line: str, traffic: Traffic) -> list[str]:
    """The secrets and personal data in ``line``, in any case, also when JSON-escaped."""
    texts = [line.casefold()]
    with contextlib.suppress(ValueError):  # not JSON: the next test reports it
        texts.append(json.dumps(json.loads(line), ensure_ascii=False).casefold())
    # Each address whole and its local part alone.
    needles = [part for email in traffic.emails for part in (email, email.split("@")[0])]
    needles += [traffic.phone, *traffic.link_tokens, *traffic.bearer_tokens]
    return [needle for needle in needles if any(needle.casefold() in text for text in texts)]


@pytest.mark.parametrize("service", SERVICES)
def test_no_log_line_carries_personal_data_or_secrets(
    services: ProcessStack, traffic: Traffic, service: str
) -> None:
    lines = services.processes[service].log_lines()
    assert lines
    leaking = {line: leaks_in(line, traffic) for line in lines}
    leaking = {line: found for line, found in leaking.items() if found}
    assert not leaking, "\n".join(f"{found}: {line[:3000]}" for line, found in leaking.items())


@pytest.mark.parametrize("service", SERVICES)
def test_every_log_line_is_a_json_object(
    services: ProcessStack, traffic: Traffic, service: str
) -> None:
    not_json = []
    for line in services.processes[service].log_lines():
        try:
            parsed = json.loads(line)
        except ValueError:
            not_json.append(line)
            continue
        if not isinstance(parsed, dict):
            not_json.append(line)
    assert not not_json, "\n".join(not_json[:50])
