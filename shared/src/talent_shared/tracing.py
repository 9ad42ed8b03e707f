"""OpenTelemetry tracing, on only when OTEL_EXPORTER_OTLP_ENDPOINT is set.

One trace follows a request: the FastAPI server span, the asyncpg queries, the outbox row (its
W3C context is stored with it and made current again when the relay publishes it), FastStream's
Kafka publish and consume spans, one span per event a consumer handles (a batch subscriber's own
span cannot have one parent per message) and the SMTP send of the email it recorded.

When tracing is off nothing is instrumented and no exporter exists: the API's no-op tracer
answers, no span is ever valid, so no context is stored or restored.
"""

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any
from uuid import UUID

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace

from talent_shared.settings import ServiceSettings

if TYPE_CHECKING:
    from aiokafka import ConsumerRecord
    from opentelemetry.sdk.trace import TracerProvider

    from talent_shared.envelope import Event
    from talent_shared.events import EventData

TraceContext = dict[str, str]
TRACEPARENT = "traceparent"

# The API's proxy tracer: it follows the global provider once start_tracing sets one.
tracer = trace.get_tracer("talent")

# Per batch: the trace context each event arrived with, by event id (see receiving()).
_received: ContextVar[Mapping[UUID, TraceContext]] = ContextVar("received_trace_contexts")


def start_tracing(settings: ServiceSettings) -> "TracerProvider | None":
    """Set up the global tracer provider exporting OTLP/HTTP, and instrument asyncpg; ``None``
    (and nothing set up) without OTEL_EXPORTER_OTLP_ENDPOINT. The SDK is imported only here."""
    endpoint = settings.otel_exporter_otlp_endpoint
    if not endpoint:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    service_name = settings.otel_service_name or settings.service_name
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}))
    exporter = OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces")
    provider.add_span_processor(BatchSpanProcessor(exporter))  # OTEL_BSP_* tune it
    trace.set_tracer_provider(provider)
    instrumentor = AsyncPGInstrumentor()  # type: ignore[no-untyped-call]
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(tracer_provider=provider)
    return provider


def current_trace_context() -> TraceContext | None:
    """The active span's W3C context, to store with work that continues later; ``None``
    without an active span (always, when tracing is off)."""
    if not trace.get_current_span().get_span_context().is_valid:
        return None
    carrier: TraceContext = {}
    propagate.inject(carrier)
    return carrier


@contextmanager
def continued_trace(stored: Mapping[str, str] | None) -> Iterator[None]:
    """Make a stored context current: spans started inside join the trace it came from."""
    if not stored:
        yield
        return
    token = otel_context.attach(propagate.extract(stored))
    try:
        yield
    finally:
        otel_context.detach(token)


def _trace_headers(record: "ConsumerRecord[Any, Any]") -> TraceContext | None:
    headers = record.headers or ()
    if not any(key == TRACEPARENT for key, _ in headers):  # untraced: decode nothing
        return None
    return {key: value.decode("latin-1") for key, value in headers if value}


@contextmanager
def receiving(
    parsed: Iterable[tuple["ConsumerRecord[Any, Any]", "Event[EventData]"]],
) -> Iterator[None]:
    """While a batch is handled, remember the context each event was published in, for
    :func:`handling`. Records without a ``traceparent`` header add nothing."""
    contexts = {
        event.event_id: headers
        for record, event in parsed
        if (headers := _trace_headers(record)) is not None
    }
    if not contexts:
        yield
        return
    token = _received.set(contexts)
    try:
        yield
    finally:
        _received.reset(token)


@contextmanager
def handling(event: "Event[EventData]", consumer: str) -> Iterator[None]:
    """A consumer span for one event of a batch, child of the span that published it, so what
    the handler records (a delivery row) can continue the request's trace."""
    stored = _received.get({}).get(event.event_id)
    if stored is None:
        yield
        return
    with (
        continued_trace(stored),
        tracer.start_as_current_span(
            f"{event.data.topic} handle",
            kind=trace.SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": event.data.topic,
                "messaging.consumer.group.name": consumer,
                "messaging.message.id": str(event.event_id),
                "talent.event_type": event.envelope.event_type,
            },
        ),
    ):
        yield
