"""Tracing: with OTEL_EXPORTER_OTLP_ENDPOINT set, one trace follows a sign-up from the HTTP request
through the outbox, Kafka and the notifications consumer to the SMTP send of the welcome email,
and the log lines of that work carry its trace_id.

The services run as processes exporting to an OTLP/HTTP receiver the test runs; the jobs service
plays no part in a sign-up and is not started."""

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import asyncpg
import httpx
import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from devsupport.databases import fresh_database
from devsupport.services import ServiceProcess, start_service
from tests.support.otlp import OtlpReceiver, ReceivedSpan
from tests.support.smtp import SmtpServer

pytestmark = pytest.mark.integration

SERVICES = ("signup", "notifications")
CANDIDATES_TOPIC = "talent.candidates.v1"


@dataclass(frozen=True)
class TracedSignUp:
    trace_id: str
    stored_parent_span_id: str  # the span named by the outbox row's stored traceparent
    spans: list[ReceivedSpan]  # every span of the trace
    processes: dict[str, ServiceProcess]

    def one(self, service: str, kind: int, name: str) -> ReceivedSpan:
        matching = [
            s for s in self.spans if s.service == service and s.kind == kind and s.name == name
        ]
        assert len(matching) == 1, f"{service} {name}: {self.spans}"
        return matching[0]

    def ancestors(self, span: ReceivedSpan) -> list[ReceivedSpan]:
        by_id = {s.span_id: s for s in self.spans}
        chain = []
        while span.parent_span_id in by_id:
            span = by_id[span.parent_span_id]
            chain.append(span)
        return chain


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture(scope="module")
async def databases(infrastructure: None) -> AsyncIterator[dict[str, str]]:
    async with (
        fresh_database("tracing_signup") as signup,
        fresh_database("tracing_notifications") as notifications,
    ):
        yield {"signup": signup, "notifications": notifications}


@pytest.fixture(scope="module")
def processes(
    databases: dict[str, str],
    receiver: OtlpReceiver,
    smtp: SmtpServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, ServiceProcess]]:
    logs = tmp_path_factory.mktemp("tracing-logs")
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "KAFKA_AUTO_OFFSET_RESET": "latest",  # a fresh group skips the broker's history
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp.port),
    }
    started = {name: start_service(name, databases[name], logs, **env) for name in SERVICES}
    try:
        for process in started.values():
            process.wait_ready()
        yield started
    finally:
        for process in started.values():
            process.kill()


async def _sign_up(client: httpx.AsyncClient, signup: ServiceProcess, email: str) -> str:
    response = await client.post(
        f"{signup.url}/v1/signups",
        json={"email": email, "first_name": "Tracy", "last_name": "Trace", "consent": True},
    )
    assert response.status_code == 201, response.text
    candidate_id: str = response.json()["candidate_id"]
    return candidate_id


async def _wait_until_consuming(
    client: httpx.AsyncClient, signup: ServiceProcess, smtp: SmtpServer, timeout: float = 90
) -> None:
    """The consumer group starts at the topic's end once assigned: sign up canaries until one
    gets its welcome email."""
    deadline = time.monotonic() + timeout
    canary = f"trace-canary-{uuid.uuid4().hex[:8]}"
    n = 0
    while not smtp.handler.to(canary):
        assert time.monotonic() < deadline, "the notifications consumer never became live"
        n += 1
        await _sign_up(client, signup, f"{canary}-{n}@example.org")
        await asyncio.sleep(1.0)


async def _stored_traceparent(database: str, candidate_id: str) -> str:
    connection = await asyncpg.connect(database)
    try:
        traceparent: str = await connection.fetchval(
            """SELECT trace_context->>'traceparent' FROM outbox
               WHERE message_key = $1 AND event_type = 'CandidateSignedUp'""",
            candidate_id,
        )
    finally:
        await connection.close()
    return traceparent


EXPECTED_SPANS = {
    ("signup", "POST /v1/signups"),
    ("signup", f"{CANDIDATES_TOPIC} publish"),
    ("notifications", f"{CANDIDATES_TOPIC} handle"),
    ("notifications", "smtp send"),
}


def _complete(spans: list[ReceivedSpan], trace_id: str) -> bool:
    """Every span the tests look at has arrived (the services export in batches)."""
    ours = [s for s in spans if s.trace_id == trace_id]
    queried = {s.service for s in ours if s.attributes.get("db.system") == "postgresql"}
    return {(s.service, s.name) for s in ours} >= EXPECTED_SPANS and queried == set(SERVICES)


@pytest.fixture(scope="module")
async def traced(
    processes: dict[str, ServiceProcess],
    databases: dict[str, str],
    receiver: OtlpReceiver,
    smtp: SmtpServer,
) -> TracedSignUp:
    signup = processes["signup"]
    email = f"traced-{uuid.uuid4().hex[:8]}@example.org"
    async with httpx.AsyncClient(timeout=10) as client:
        await _wait_until_consuming(client, signup, smtp)
        candidate_id = await _sign_up(client, signup, email)
    assert len(await smtp.wait_for(email, 1)) == 1
    traceparent = await _stored_traceparent(databases["signup"], candidate_id)
    assert traceparent, "the outbox row has no trace context"
    _version, trace_id, parent_span_id, _flags = traceparent.split("-")
    spans = await asyncio.to_thread(receiver.wait_for, lambda got: _complete(got, trace_id))
    return TracedSignUp(
        trace_id=trace_id,
        stored_parent_span_id=parent_span_id,
        spans=[s for s in spans if s.trace_id == trace_id],
        processes=processes,
    )


def test_http_server_span_of_the_sign_up_is_the_root_of_its_trace(traced: TracedSignUp) -> None:
    server = traced.one("signup", Span.SPAN_KIND_SERVER, "POST /v1/signups")
    assert server.parent_span_id == ""
    assert server.attributes.get("http.route") == "/v1/signups"


def test_outbox_row_stores_the_http_request_span_as_its_trace_context(
    traced: TracedSignUp,
) -> None:
    server = traced.one("signup", Span.SPAN_KIND_SERVER, "POST /v1/signups")
    assert traced.stored_parent_span_id == server.span_id


def test_outbox_publish_span_continues_the_request_trace(traced: TracedSignUp) -> None:
    server = traced.one("signup", Span.SPAN_KIND_SERVER, "POST /v1/signups")
    publish = traced.one("signup", Span.SPAN_KIND_PRODUCER, f"{CANDIDATES_TOPIC} publish")
    assert publish.attributes.get("messaging.destination.name") == CANDIDATES_TOPIC
    assert server in traced.ancestors(publish)


def test_notifications_consumer_span_is_a_child_of_the_kafka_message(traced: TracedSignUp) -> None:
    server = traced.one("signup", Span.SPAN_KIND_SERVER, "POST /v1/signups")
    handle = traced.one("notifications", Span.SPAN_KIND_CONSUMER, f"{CANDIDATES_TOPIC} handle")
    assert handle.attributes.get("talent.event_type") == "CandidateSignedUp"
    producers = [s for s in traced.ancestors(handle) if s.kind == Span.SPAN_KIND_PRODUCER]
    assert [p.service for p in producers] == ["signup"]
    assert traced.ancestors(handle)[-1] == server


def test_smtp_send_span_is_a_child_of_the_consumer_span(traced: TracedSignUp) -> None:
    handle = traced.one("notifications", Span.SPAN_KIND_CONSUMER, f"{CANDIDATES_TOPIC} handle")
    send = traced.one("notifications", Span.SPAN_KIND_CLIENT, "smtp send")
    assert send.parent_span_id == handle.span_id
    assert send.attributes.get("talent.email_kind") == "welcome"


def test_every_span_of_the_trace_has_its_parent_in_the_trace(traced: TracedSignUp) -> None:
    span_ids = {s.span_id for s in traced.spans}
    roots = [s for s in traced.spans if not s.parent_span_id]
    assert len(roots) == 1
    assert all(s.parent_span_id in span_ids for s in traced.spans if s.parent_span_id)


def test_database_queries_of_the_request_are_spans_of_its_trace(traced: TracedSignUp) -> None:
    server = traced.one("signup", Span.SPAN_KIND_SERVER, "POST /v1/signups")
    queries = [s for s in traced.spans if s.attributes.get("db.system") == "postgresql"]
    assert any(server in traced.ancestors(q) and q.service == "signup" for q in queries)
    assert any(q.service == "notifications" for q in queries)


def _json_lines(process: ServiceProcess) -> list[dict[str, object]]:
    return [json.loads(line) for line in process.log_lines() if line.startswith("{")]


def _lines_with_trace(process: ServiceProcess, trace_id: str) -> list[dict[str, object]]:
    return [line for line in _json_lines(process) if line.get("trace_id") == trace_id]


def test_signup_log_line_of_the_request_carries_its_trace_and_span_id(
    traced: TracedSignUp,
) -> None:
    lines = _lines_with_trace(traced.processes["signup"], traced.trace_id)
    signed_up = [line for line in lines if line["event"] == "candidate signed up"]
    assert len(signed_up) == 1
    server = traced.one("signup", Span.SPAN_KIND_SERVER, "POST /v1/signups")
    assert signed_up[0]["span_id"] == server.span_id


def test_email_sent_log_line_carries_the_request_trace_id(traced: TracedSignUp) -> None:
    lines = _lines_with_trace(traced.processes["notifications"], traced.trace_id)
    assert [line["event"] for line in lines if line["event"] == "email sent"] == ["email sent"]
    assert all(isinstance(line.get("span_id"), str) for line in lines)


def test_log_lines_outside_any_span_carry_no_trace_id(traced: TracedSignUp) -> None:
    lines = _json_lines(traced.processes["notifications"])
    started = [line for line in lines if line.get("event") == "service started"]
    assert started
    assert all("trace_id" not in line for line in started)
