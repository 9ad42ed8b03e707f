"""How events travel: the envelope around an event's data, the Kafka record that carries it, and
parsing by ``event_type``.

Wire format: UTF-8 JSON ``{event_id, event_type, event_version: 1, occurred_at, producer,
correlation_id, data}``; ``event_type`` is repeated in a Kafka header so consumers can route
without parsing.
"""

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar, Union
from uuid import UUID, uuid4

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    TypeAdapter,
    ValidationError,
    create_model,
)
from typing_extensions import TypedDict

from talent_shared.events import EVENT_TYPE_HEADER, EVENT_TYPES, EventData

D = TypeVar("D", bound=EventData, covariant=True)
NewData = TypeVar("NewData", bound=EventData)


class Envelope(BaseModel):
    """What travels on the wire; ``data`` stays a plain mapping until its type is known.

    Each event type has its own subclass (``TYPED_ENVELOPES``) whose ``data`` is that type's
    model: what :func:`new_event` builds and :func:`parse_event` returns."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: UUID
    event_type: str = Field(min_length=1)
    event_version: Literal[1] = 1
    occurred_at: AwareDatetime
    producer: str
    correlation_id: str
    data: dict[str, Any]


def _typed_envelope(data_type: type[EventData]) -> type[Envelope]:
    """The envelope of one event type, with its typed ``data`` (also its AsyncAPI message)."""
    event_type: Any = Literal[data_type.event_type]  # built at run time, one per event type
    model: type[Envelope] = create_model(
        f"{data_type.event_type}Event",
        __base__=Envelope,
        __doc__=f"The envelope of a {data_type.event_type} event, with its data.",
        event_type=(event_type, ...),
        data=(data_type, ...),
    )
    return model


TYPED_ENVELOPES: dict[str, type[Envelope]] = {
    event_type: _typed_envelope(data_type) for event_type, data_type in EVENT_TYPES.items()
}
# Any known event, envelope and data checked in one pass over the JSON (``event_type`` picks the
# model): half the time of the envelope first, then its data.
_ANY_TYPED_ENVELOPE: Any = Annotated[
    Union[tuple(TYPED_ENVELOPES.values())],  # noqa: UP007 (a runtime union of the models)
    Field(discriminator="event_type"),
]
_KNOWN_EVENT: TypeAdapter[Envelope] = TypeAdapter(_ANY_TYPED_ENVELOPE)


class _WireEnvelope(TypedDict):
    """The :class:`Envelope` with typed ``data``: serialised in one pass, unchecked."""

    event_id: UUID
    event_type: str
    event_version: Literal[1]
    occurred_at: datetime
    producer: str
    correlation_id: str
    data: SerializeAsAny[EventData]


_WIRE_ENVELOPE: TypeAdapter[_WireEnvelope] = TypeAdapter(_WireEnvelope)


@dataclass(frozen=True, slots=True)
class EventRecord:
    """An event as the Kafka record that carries it: what publishers send."""

    event_id: UUID
    event_type: str
    correlation_id: str
    topic: str
    key: bytes
    value: bytes


def event_headers(event_type: str, correlation_id: str) -> dict[str, str]:
    """The Kafka headers of an event's record."""
    return {EVENT_TYPE_HEADER: event_type, "correlation_id": correlation_id}


def new_event_records(
    events: Iterable[EventData], *, producer: str, correlation_id: str
) -> list[EventRecord]:
    """Records of new events, one request's: serialised straight from their validated data. No
    :class:`Envelope` is built, which cost more than the rest of publishing an event."""
    occurred_at = datetime.now(UTC)
    batch = list(events)
    return [
        _record(data, event_id, occurred_at, producer=producer, correlation_id=correlation_id)
        for data, event_id in zip(batch, random_uuids(len(batch)), strict=True)
    ]


def random_uuids(count: int) -> list[UUID]:
    """``count`` version-4 UUIDs, as ``uuid4`` makes them but from one read of the OS's random
    source: ``uuid4`` reads it once per id, which was 8 % of the jobs process's CPU under
    batched ingest."""
    random = os.urandom(16 * count)
    return [UUID(bytes=random[start : start + 16], version=4) for start in range(0, 16 * count, 16)]


def _record(
    data: EventData, event_id: UUID, occurred_at: datetime, *, producer: str, correlation_id: str
) -> EventRecord:
    value = _WIRE_ENVELOPE.dump_json(
        {
            "event_id": event_id,
            "event_type": data.event_type,
            "event_version": 1,
            "occurred_at": occurred_at,
            "producer": producer,
            "correlation_id": correlation_id,
            "data": data,
        }
    )
    return EventRecord(
        event_id, data.event_type, correlation_id, data.topic, data.key.encode(), value
    )


@dataclass(frozen=True, slots=True)
class Event(Generic[D]):
    """A parsed (or new) event: its envelope and its typed data. A plain dataclass: both parts
    are validated models already, and checking them again cost more than building them."""

    envelope: Envelope
    data: D

    @property
    def event_id(self) -> UUID:
        return self.envelope.event_id

    def to_bytes(self) -> bytes:
        return self.envelope.model_dump_json().encode()

    def headers(self) -> dict[str, str]:
        return event_headers(self.envelope.event_type, self.envelope.correlation_id)

    def record(self) -> EventRecord:
        envelope = self.envelope
        return EventRecord(
            envelope.event_id,
            envelope.event_type,
            envelope.correlation_id,
            self.data.topic,
            self.data.key.encode(),
            self.to_bytes(),
        )


class PoisonMessageError(ValueError):
    """A message that can never be handled: not JSON, not an envelope, or malformed data."""


def new_event(data: NewData, *, producer: str, correlation_id: str | None = None) -> Event[NewData]:
    event_id = uuid4()
    envelope = TYPED_ENVELOPES[data.event_type](
        event_id=event_id,
        event_type=data.event_type,
        occurred_at=datetime.now(UTC),
        producer=producer,
        correlation_id=correlation_id or str(event_id),
        data=data,
    )
    return Event(envelope=envelope, data=data)


def parse_event(raw: bytes | None) -> Event[EventData] | None:
    """Parse one message. ``None`` for an event type this code does not know (skip it).

    Raises :class:`PoisonMessageError` when the message cannot be parsed at all.
    """
    if raw is None:
        raise PoisonMessageError("message has no value")
    try:
        envelope = _KNOWN_EVENT.validate_json(raw)
    except ValidationError:
        return _parse_in_two_steps(raw)
    data: EventData = envelope.data  # type: ignore[assignment]  # a typed envelope's data
    return Event(envelope=envelope, data=data)


def _parse_in_two_steps(raw: bytes) -> Event[EventData] | None:
    """The envelope, then its data: tells an unknown event type (``None``) from a malformed
    message, and says what is wrong with the latter."""
    try:
        envelope = Envelope.model_validate_json(raw)
    except ValidationError as error:
        raise PoisonMessageError(f"not an event envelope: {_summary(error)}") from error
    data_type = EVENT_TYPES.get(envelope.event_type)
    if data_type is None:
        return None
    try:
        data = data_type.model_validate(envelope.data)
    except ValidationError as error:
        raise PoisonMessageError(
            f"invalid {envelope.event_type} data: {_summary(error)}"
        ) from error
    return Event(envelope=envelope, data=data)


def _summary(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'message'}: {e['msg']}" for e in error.errors()
    )[:500]
