"""The event envelope and event types, as the contract's Events section describes them."""

import json
import uuid
from datetime import UTC, datetime

import pytest

from talent_shared.envelope import (
    Envelope,
    PoisonMessageError,
    new_event,
    new_event_records,
    parse_event,
    random_uuids,
)
from talent_shared.events import (
    CANDIDATES_TOPIC,
    EVENT_TYPES,
    POSTINGS_TOPIC,
    VIEWS_TOPIC,
    CandidateErased,
    CandidateSignedUp,
    EventData,
    JobClosed,
    JobPosted,
    JobViewed,
    dead_letter_topic,
)

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def job_viewed() -> JobViewed:
    return JobViewed(visitor_id="visitor-1", job_id=uuid.uuid4(), viewed_at=NOW)


def _job_posted() -> JobPosted:
    return JobPosted(
        job_id=uuid.uuid4(),
        title="Nurse",
        category="Nursing",
        location="Durham, NC",
        description="Night shifts",
        posted_at=NOW,
        updated_at=NOW,
    )


def _erased() -> CandidateErased:
    return CandidateErased(candidate_id=uuid.uuid4(), erased_at=NOW, visitor_ids=["a", "b"])


def test_every_contract_event_type_is_known() -> None:
    assert set(EVENT_TYPES) == {
        "CandidateSignedUp",
        "CandidatePreferencesChanged",
        "CandidateUnsubscribed",
        "CandidateConfirmationRequested",  # additive: double opt-in (README)
        "CandidateChangeRequested",  # additive: a repeat sign-up asks for changes
        "CandidateSignupRepeated",  # additive: a repeat sign-up that changes nothing
        "CandidateChangesConfirmed",  # additive: changes confirmed from their email
        "CandidateErased",
        "JobPosted",
        "JobUpdated",
        "JobClosed",
        "JobViewed",
        "ComplaintReceived",  # additive: notifications.feedback.v1, a complaint for signup
    }


@pytest.mark.parametrize(
    ("event_type", "topic"),
    [
        ("CandidateSignedUp", CANDIDATES_TOPIC),
        ("CandidateErased", CANDIDATES_TOPIC),
        ("JobPosted", POSTINGS_TOPIC),
        ("JobClosed", POSTINGS_TOPIC),
        ("JobViewed", VIEWS_TOPIC),
    ],
)
def test_event_type_travels_on_its_contract_topic(event_type: str, topic: str) -> None:
    assert EVENT_TYPES[event_type].topic == topic


def test_envelope_has_the_contract_fields() -> None:
    wire = json.loads(new_event(job_viewed(), producer="jobs", correlation_id="c-1").to_bytes())
    assert set(wire) == {
        "event_id",
        "event_type",
        "event_version",
        "occurred_at",
        "producer",
        "correlation_id",
        "data",
    }
    assert uuid.UUID(wire["event_id"])
    assert wire["event_type"] == "JobViewed"
    assert wire["event_version"] == 1
    assert datetime.fromisoformat(wire["occurred_at"]).tzinfo is not None
    assert wire["producer"] == "jobs"
    assert wire["correlation_id"] == "c-1"


def test_event_type_is_also_a_header() -> None:
    event = new_event(job_viewed(), producer="jobs")
    assert event.headers()["event_type"] == "JobViewed"


def test_partition_keys_follow_the_contract() -> None:
    candidate_id, job_id = uuid.uuid4(), uuid.uuid4()
    assert job_viewed().key == "visitor-1"
    assert JobClosed(job_id=job_id, closed_at=NOW).key == str(job_id)
    assert CandidateErased(candidate_id=candidate_id, erased_at=NOW).key == str(candidate_id)


def test_event_round_trips_through_bytes() -> None:
    event = new_event(job_viewed(), producer="jobs")
    parsed = parse_event(event.to_bytes())
    assert parsed is not None
    assert parsed.data == event.data
    assert parsed.envelope == event.envelope


@pytest.mark.parametrize("data", [job_viewed(), _job_posted(), _erased()], ids=type)
def test_each_event_type_parses_to_its_own_data_type(data: EventData) -> None:
    event = new_event(data, producer="tests", correlation_id="c-1")
    parsed = parse_event(event.to_bytes())
    assert parsed is not None
    assert type(parsed.data) is type(data)
    assert (parsed.data, parsed.event_id, parsed.envelope.correlation_id) == (
        data,
        event.event_id,
        "c-1",
    )


@pytest.mark.parametrize("data", [job_viewed(), _job_posted(), _erased()], ids=type)
def test_a_new_event_travels_as_its_envelope_with_data_as_json(data: EventData) -> None:
    event = new_event(data, producer="tests")
    wire = Envelope(
        **event.envelope.model_dump(exclude={"data"}), data=data.model_dump(mode="json")
    )
    assert event.to_bytes() == wire.model_dump_json().encode()


def test_candidate_signed_up_round_trips_with_preferences() -> None:
    data = CandidateSignedUp(
        candidate_id=uuid.uuid4(),
        email="ada@example.org",
        first_name="Ada",
        last_name="Lovelace",
        interests=["Nursing"],
        locations=["Durham"],
        keywords=["ICU"],
        alert_frequency="weekly",
        signed_up_at=NOW,
    )
    parsed = parse_event(new_event(data, producer="signup").to_bytes())
    assert parsed is not None
    assert parsed.data == data


def test_unknown_event_type_is_skipped_not_failed() -> None:
    wire = json.loads(new_event(job_viewed(), producer="jobs").to_bytes())
    wire["event_type"] = "JobFavourited"
    assert parse_event(json.dumps(wire).encode()) is None


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"",
        b"[]",
        b'{"event_type": "JobViewed"}',
        '{"emoji": "\U0001f600"}'.encode(),
    ],
)
def test_unparseable_message_is_poison(raw: bytes) -> None:
    with pytest.raises(PoisonMessageError):
        parse_event(raw)


def test_known_type_with_wrong_data_is_poison() -> None:
    wire = json.loads(new_event(job_viewed(), producer="jobs").to_bytes())
    wire["data"]["job_id"] = "not-a-uuid"
    with pytest.raises(PoisonMessageError, match="job_id"):
        parse_event(json.dumps(wire).encode())


def test_missing_value_is_poison() -> None:
    with pytest.raises(PoisonMessageError):
        parse_event(None)


def test_dead_letter_topic_is_topic_dot_dlq() -> None:
    assert dead_letter_topic(VIEWS_TOPIC) == "jobs.views.v1.dlq"


@pytest.mark.parametrize("data", [job_viewed(), _job_posted(), _erased()], ids=type)
def test_a_new_event_record_carries_the_bytes_of_its_envelope(data: EventData) -> None:
    [record] = new_event_records([data], producer="jobs", correlation_id="c-1")
    occurred_at = json.loads(record.value)["occurred_at"]
    envelope = Envelope(
        event_id=record.event_id,
        event_type=data.event_type,
        occurred_at=occurred_at,
        producer="jobs",
        correlation_id="c-1",
        data=data.model_dump(mode="json"),
    )
    assert record.value == envelope.model_dump_json().encode()


def test_new_event_records_each_get_their_own_random_version_4_id() -> None:
    records = new_event_records(
        [job_viewed() for _ in range(500)], producer="jobs", correlation_id="c"
    )
    ids = [record.event_id for record in records]
    assert len(set(ids)) == 500
    assert {(event_id.version, event_id.variant) for event_id in ids} == {(4, uuid.RFC_4122)}


def test_random_uuids_are_version_4_and_all_different() -> None:
    ids = random_uuids(1000) + random_uuids(1000)
    assert len(set(ids)) == 2000
    assert {(event_id.version, event_id.variant) for event_id in ids} == {(4, uuid.RFC_4122)}
    assert random_uuids(0) == []


def test_a_new_event_record_is_routed_keyed_and_headed_like_its_event() -> None:
    data = job_viewed()
    [record] = new_event_records([data], producer="jobs", correlation_id="c-1")
    event = new_event(data, producer="jobs", correlation_id="c-1").record()
    assert (record.topic, record.key, record.event_type, record.correlation_id) == (
        event.topic,
        event.key,
        event.event_type,
        event.correlation_id,
    )
