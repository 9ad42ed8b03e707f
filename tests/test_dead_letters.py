"""Poison messages go to <topic>.dlq with the error in their headers; consumers carry on."""

import json
import uuid
from datetime import UTC, datetime

import pytest

from talent_shared.envelope import new_event
from talent_shared.events import CANDIDATES_TOPIC, POSTINGS_TOPIC, VIEWS_TOPIC, CandidateSignedUp
from tests.support.fixtures import Stack
from tests.support.flows import unique
from tests.support.kafka import raw_producer, read_until, topic_reader

pytestmark = pytest.mark.integration

POISON = [b"{not json", b'{"event_type": "JobPosted"}', b"\xff\xfe garbage"]


@pytest.mark.parametrize("topic", [CANDIDATES_TOPIC, POSTINGS_TOPIC, VIEWS_TOPIC])
@pytest.mark.parametrize("poison", POISON)
async def test_poison_message_lands_in_the_dead_letter_topic(
    stack: Stack, topic: str, poison: bytes
) -> None:
    key = unique("poison").encode()
    async with topic_reader(f"{topic}.dlq") as dead_letters:
        async with raw_producer() as producer:
            await producer.send_and_wait(topic, poison, key=key)
        records = await read_until(dead_letters, lambda r: r.key == key, timeout=30)
    mine = [r for r in records if r.key == key]
    assert mine[0].value == poison
    headers = dict(mine[0].headers)
    assert headers["dlq-error-type"] == b"PoisonMessageError"
    assert headers["dlq-original-topic"] == topic.encode()
    assert headers["dlq-error"]


async def test_messages_after_a_poison_one_are_still_handled(stack: Stack) -> None:
    candidate_id = uuid.uuid4()
    email = f"{unique('after-poison')}@example.org"
    event = new_event(
        CandidateSignedUp(
            candidate_id=candidate_id,
            email=email,
            first_name="After",
            last_name="Poison",
            signed_up_at=datetime.now(UTC),
        ),
        producer="test",
    )
    key = str(candidate_id).encode()
    async with raw_producer() as producer:
        await producer.send_and_wait(CANDIDATES_TOPIC, b"{poison", key=key)
        await producer.send_and_wait(CANDIDATES_TOPIC, event.to_bytes(), key=key)
    [welcome] = await stack.smtp.wait_for(email, 1, timeout=30)
    assert "Welcome" in welcome["Subject"]


async def test_unknown_event_type_is_skipped_not_dead_lettered(stack: Stack) -> None:
    candidate_id = uuid.uuid4()
    email = f"{unique('after-unknown')}@example.org"
    known = new_event(
        CandidateSignedUp(
            candidate_id=candidate_id,
            email=email,
            first_name="After",
            last_name="Unknown",
            signed_up_at=datetime.now(UTC),
        ),
        producer="test",
    )
    unknown = json.loads(known.to_bytes())
    unknown["event_type"] = "CandidateFavouritedJob"
    unknown["event_id"] = str(uuid.uuid4())
    key = str(candidate_id).encode()
    async with topic_reader(f"{CANDIDATES_TOPIC}.dlq") as dead_letters:
        async with raw_producer() as producer:
            await producer.send_and_wait(CANDIDATES_TOPIC, json.dumps(unknown).encode(), key=key)
            await producer.send_and_wait(CANDIDATES_TOPIC, known.to_bytes(), key=key)
        [welcome] = await stack.smtp.wait_for(email, 1, timeout=30)
        assert "Welcome" in welcome["Subject"]
        batches = await dead_letters.getmany(timeout_ms=2000)
    assert [r for records in batches.values() for r in records if r.key == key] == []
