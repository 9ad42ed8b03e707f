"""Tracing off is the zero-cost path; the helpers that carry a trace across the outbox and the
delivery row, and the log processor, with an SDK tracer provider local to each test (the global
provider is never set here)."""

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from aiokafka import ConsumerRecord
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from opentelemetry import trace
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider

from talent_shared.envelope import new_event
from talent_shared.events import CandidateUnsubscribed
from talent_shared.kafka import create_broker
from talent_shared.logging import configure_logging, get_logger
from talent_shared.settings import ServiceSettings
from talent_shared.tracing import (
    continued_trace,
    current_trace_context,
    handling,
    receiving,
    start_tracing,
)


@pytest.fixture
def sdk_tracer() -> Iterator[trace.Tracer]:
    provider = TracerProvider()
    yield provider.get_tracer("test")
    provider.shutdown()


def _record(headers: list[tuple[str, bytes]]) -> ConsumerRecord[Any, Any]:
    return ConsumerRecord(
        topic="talent.candidates.v1",
        partition=0,
        offset=0,
        timestamp=0,
        timestamp_type=0,
        key=None,
        value=b"",
        checksum=None,
        serialized_key_size=0,
        serialized_value_size=0,
        headers=headers,
    )


def test_without_an_endpoint_no_tracer_provider_is_created() -> None:
    assert start_tracing(ServiceSettings(otel_exporter_otlp_endpoint=None)) is None
    assert not isinstance(trace.get_tracer_provider(), TracerProvider)


def test_an_empty_endpoint_means_tracing_is_off() -> None:
    assert start_tracing(ServiceSettings(otel_exporter_otlp_endpoint="")) is None


def test_without_an_endpoint_asyncpg_is_not_instrumented() -> None:
    start_tracing(ServiceSettings())
    assert not AsyncPGInstrumentor().is_instrumented_by_opentelemetry  # type: ignore[no-untyped-call]


def test_broker_without_a_tracer_provider_has_no_middleware() -> None:
    assert list(create_broker(ServiceSettings()).middlewares) == []


def test_broker_with_a_tracer_provider_has_the_kafka_telemetry_middleware() -> None:
    broker = create_broker(ServiceSettings(), tracer_provider=TracerProvider())
    assert [type(m) for m in broker.middlewares] == [KafkaTelemetryMiddleware]


def test_without_an_active_span_no_trace_context_is_stored() -> None:
    assert current_trace_context() is None


def test_stored_trace_context_names_the_active_span(sdk_tracer: trace.Tracer) -> None:
    with sdk_tracer.start_as_current_span("request") as span:
        stored = current_trace_context()
    context = span.get_span_context()
    assert stored is not None
    _version, trace_id, span_id, _flags = stored["traceparent"].split("-")
    assert (trace_id, span_id) == (f"{context.trace_id:032x}", f"{context.span_id:016x}")


def test_continued_trace_makes_a_stored_context_the_parent(sdk_tracer: trace.Tracer) -> None:
    with sdk_tracer.start_as_current_span("request") as request:
        stored = current_trace_context()
    with continued_trace(stored), sdk_tracer.start_as_current_span("later") as later:
        pass
    assert isinstance(later, ReadableSpan)
    assert later.parent is not None
    assert later.parent.span_id == request.get_span_context().span_id
    assert later.get_span_context().trace_id == request.get_span_context().trace_id


def test_continued_trace_without_a_stored_context_changes_nothing() -> None:
    with continued_trace(None):
        assert not trace.get_current_span().get_span_context().is_valid


def test_handling_an_event_continues_the_trace_it_was_published_in(
    sdk_tracer: trace.Tracer,
) -> None:
    event = new_event(CandidateUnsubscribed.model_validate(_unsubscribed()), producer="signup")
    with sdk_tracer.start_as_current_span("publish") as publish:
        stored = current_trace_context()
    assert stored is not None
    record = _record([(key, value.encode()) for key, value in stored.items()])
    with receiving([(record, event)]), handling(event, "notifications.candidates"):
        current = trace.get_current_span().get_span_context()
    assert current.trace_id == publish.get_span_context().trace_id


def test_handling_an_event_without_trace_headers_starts_no_span() -> None:
    event = new_event(CandidateUnsubscribed.model_validate(_unsubscribed()), producer="signup")
    record = _record([("event_type", b"CandidateUnsubscribed")])
    with receiving([(record, event)]), handling(event, "notifications.candidates"):
        assert not trace.get_current_span().get_span_context().is_valid


def _unsubscribed() -> dict[str, str]:
    return {
        "candidate_id": "5f0c6b7e-2f43-4f5e-9c1a-1d2b3c4d5e6f",
        "unsubscribed_at": "2026-01-01T00:00:00Z",
    }


def _log_line(trace_ids: bool, tracer: trace.Tracer | None = None) -> dict[str, Any]:
    stream = io.StringIO()
    configure_logging(service="test", stream=stream, trace_ids=trace_ids)
    try:
        if tracer is None:
            get_logger("test").info("hello")
        else:
            with tracer.start_as_current_span("work"):
                get_logger("test").info("hello")
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
    line: dict[str, Any] = json.loads(stream.getvalue().splitlines()[-1])
    return line


def test_log_line_in_a_span_carries_trace_id_and_span_id(sdk_tracer: trace.Tracer) -> None:
    line = _log_line(True, sdk_tracer)
    assert len(line["trace_id"]) == 32
    assert len(line["span_id"]) == 16


def test_log_line_outside_a_span_has_no_trace_id() -> None:
    assert "trace_id" not in _log_line(True)


def test_with_tracing_off_log_lines_have_no_trace_id(sdk_tracer: trace.Tracer) -> None:
    assert "trace_id" not in _log_line(False, sdk_tracer)
