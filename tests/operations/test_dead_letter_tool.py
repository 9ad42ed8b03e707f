"""`talent-admin dlq list|show|replay`, the console script, against the real broker and services:
a sign-up the notifications database refuses goes to the dead-letter topic; once the cause is
fixed, a replay sends the welcome email once, and a second replay has no further effect."""

import asyncio
import json
import os
import subprocess
import uuid
from datetime import UTC, datetime

import asyncpg
import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from devsupport.infra import kafka_bootstrap
from talent_shared.envelope import new_event
from talent_shared.events import CANDIDATES_TOPIC, CandidateSignedUp
from tests.support.fixtures import Stack
from tests.support.kafka import raw_producer, read_until, topic_reader

pytestmark = pytest.mark.integration

BLOCKED_DOMAIN = "blocked.example.org"
# The cause an operator can fix: a constraint (say, from a bad migration) refuses the subscriber.
REFUSE = (
    "ALTER TABLE subscribers ADD CONSTRAINT ops_refuses_blocked "
    f"CHECK (email NOT LIKE '%@{BLOCKED_DOMAIN}')"
)
FIX = "ALTER TABLE subscribers DROP CONSTRAINT ops_refuses_blocked"


def talent_admin(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["talent-admin", *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap()},
        check=False,
    )


async def run_admin(*arguments: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(talent_admin, *arguments)


async def wait_until_committed(group: str, topic: str, partition: int, past: int) -> None:
    """Until ``group`` has committed past ``offset``: the consumer has handled the message."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap())
    await admin.start()
    try:
        async with asyncio.timeout(60):
            while True:
                offsets = await admin.list_consumer_group_offsets(group)
                committed = offsets.get(TopicPartition(topic, partition))
                if committed is not None and committed.offset > past:
                    return
                await asyncio.sleep(0.2)
    finally:
        await admin.close()


def replayed_to(output: str) -> tuple[int, int]:
    """``replayed T.dlq P:O to T P:O`` -> where the message now is on the source topic."""
    [line] = [line for line in output.splitlines() if line.startswith("replayed ")]
    partition, offset = line.rsplit(" ", 1)[1].split(":")
    return int(partition), int(offset)


async def test_dead_letter_replayed_after_the_fix_takes_effect_once(stack: Stack) -> None:
    notifications_db = await asyncpg.connect(stack.notifications_database)
    group = stack.notifications_runtime.settings.consumer_group("candidates")
    candidate_id = uuid.uuid4()
    email = f"replay-{uuid.uuid4().hex[:8]}@{BLOCKED_DOMAIN}"
    event = new_event(
        CandidateSignedUp(
            candidate_id=candidate_id,
            email=email,
            first_name="Replay",
            last_name="Once",
            signed_up_at=datetime.now(UTC),
        ),
        producer="test",
    )
    key = str(candidate_id).encode()
    try:
        await notifications_db.execute(REFUSE)
        async with topic_reader(f"{CANDIDATES_TOPIC}.dlq") as dead_letters:
            async with raw_producer() as producer:
                headers = [(name, value.encode()) for name, value in event.headers().items()]
                await producer.send_and_wait(
                    CANDIDATES_TOPIC, event.to_bytes(), key=key, headers=headers
                )
            records = await read_until(dead_letters, lambda r: r.key == key, timeout=60)
        [dead] = [r for r in records if r.key == key]
        address = f"{dead.partition}:{dead.offset}"
        assert stack.smtp.handler.to(email) == []

        listed = await run_admin("dlq", "list", CANDIDATES_TOPIC)
        assert listed.returncode == 0, listed.stderr
        [entry] = [json.loads(line) for line in listed.stdout.splitlines() if address in line]
        assert entry["address"] == address
        assert entry["error_type"] == "CheckViolationError"
        assert entry["source"].startswith(f"{CANDIDATES_TOPIC}/")

        shown = await run_admin("dlq", "show", CANDIDATES_TOPIC, address)
        assert shown.returncode == 0, shown.stderr
        details = json.loads(shown.stdout)
        assert details["value"].encode() == event.to_bytes()
        assert details["headers"]["event_type"] == "CandidateSignedUp"

        await notifications_db.execute(FIX)
        first = await run_admin("dlq", "replay", CANDIDATES_TOPIC, "--offset", address)
        assert first.returncode == 0, first.stderr
        [welcome] = await stack.smtp.wait_for(email, 1, timeout=60)
        assert "Welcome" in welcome["Subject"]

        second = await run_admin("dlq", "replay", CANDIDATES_TOPIC, "--offset", address)
        assert second.returncode == 0, second.stderr
        partition, offset = replayed_to(second.stdout)
        await wait_until_committed(group, CANDIDATES_TOPIC, partition, offset)
    finally:
        await notifications_db.execute(FIX.replace("DROP CONSTRAINT", "DROP CONSTRAINT IF EXISTS"))
        deliveries = await notifications_db.fetchval(
            "SELECT count(*) FROM deliveries WHERE candidate_id = $1", candidate_id
        )
        await notifications_db.close()
    assert deliveries == 1
    assert len(stack.smtp.handler.to(email)) == 1


async def test_dead_letter_tool_rejects_an_address_that_is_not_an_offset() -> None:
    result = await run_admin("dlq", "show", CANDIDATES_TOPIC, "first")
    assert result.returncode == 2
    assert "is not OFFSET or PARTITION:OFFSET" in result.stderr


async def test_dead_letter_tool_names_a_topic_that_does_not_exist(stack: Stack) -> None:
    result = await run_admin("dlq", "list", "no.such.topic.v1")
    assert result.returncode == 2
    assert "no.such.topic.v1.dlq does not exist" in result.stderr
