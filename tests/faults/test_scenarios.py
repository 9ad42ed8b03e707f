"""Faults injected while traffic flows; the end state is checked against what was accepted:
every accepted view projected, one welcome per accepted sign-up, no alert twice."""

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from talent_shared.events import CANDIDATES_TOPIC, POSTINGS_TOPIC, VIEWS_TOPIC
from tests.faults.harness import (
    SERVICES,
    FaultStack,
    Outcome,
    check_signups,
    check_views,
    new_tag,
    post_job,
    report,
    run_and_check,
    run_with_fault,
    signup_traffic,
    workload,
)
from tests.faults.stack import fault_stack
from tests.support.infra import infra
from tests.support.kafka import raw_producer, topic_reader

pytestmark = [pytest.mark.integration, pytest.mark.faults]


@pytest.fixture(scope="module")
async def stack(
    infrastructure: None, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[FaultStack]:
    async with fault_stack(tmp_path_factory.mktemp("fault-logs")) as running:
        yield running


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield http


async def test_kafka_killed_and_restarted_mid_stream(
    stack: FaultStack, client: httpx.AsyncClient
) -> None:
    async def kill_kafka() -> None:
        await asyncio.to_thread(infra, "kill", "kafka")
        await asyncio.sleep(3)
        await asyncio.to_thread(infra, "start", "kafka")

    load = await workload(stack, client)
    await run_and_check(stack, load, "Kafka SIGKILL, restarted", kill_kafka, after=8)


@pytest.mark.parametrize("service", ["jobs", "signup", "notifications"])
async def test_service_killed_mid_batch_and_restarted(
    stack: FaultStack, client: httpx.AsyncClient, service: str
) -> None:
    async def kill_and_restart() -> None:
        [replica] = stack.replicas[service]
        stack.kill(replica)
        await asyncio.sleep(1)
        stack.start(replica)
        assert replica.process is not None
        await asyncio.to_thread(replica.process.wait_ready)

    load = await workload(stack, client)
    await run_and_check(stack, load, f"{service} SIGKILL, restarted", kill_and_restart)


async def test_postgres_restarted_while_consumers_write(
    stack: FaultStack, client: httpx.AsyncClient
) -> None:
    async def restart_postgres() -> None:
        await asyncio.to_thread(infra, "restart", "postgres")

    load = await workload(stack, client)
    await run_and_check(stack, load, "PostgreSQL restarted", restart_postgres)


async def test_smtp_refusing_then_down_then_back(
    stack: FaultStack, client: httpx.AsyncClient
) -> None:
    category, signup_tag = new_tag(), new_tag()
    await post_job(stack, client, category)
    signups = signup_traffic(stack, client, signup_tag, [category])

    async def refuse_then_go_down() -> None:
        stack.smtp.handler.refuse_with = "451 4.3.0 Try again later"
        await asyncio.sleep(3)
        stack.smtp.handler.refuse_with = None
        stack.smtp.stop()
        await asyncio.sleep(3)
        stack.smtp.start()

    repaired = await run_with_fault([signups], refuse_then_go_down)
    await check_signups(stack, "SMTP 451, then down, then back", signups, signup_tag, repaired)


POISON = [b"{not json", b'{"event_type": "JobPosted", "data": 1}', b"\x00\xff" * 10]
OVERSIZED = b'{"padding": "' + b"x" * 900_000 + b'"}'


async def test_poison_and_oversized_messages_land_in_dead_letter_topics(
    stack: FaultStack, client: httpx.AsyncClient
) -> None:
    load = await workload(stack, client)
    topics = [CANDIDATES_TOPIC, POSTINGS_TOPIC, VIEWS_TOPIC]
    poison_tag = new_tag()
    sent: dict[str, set[bytes]] = {topic: set() for topic in topics}

    async def publish_poison() -> None:
        async with raw_producer() as producer:
            for topic in topics:
                for n, value in enumerate([*POISON, OVERSIZED]):
                    key = f"{poison_tag}-{n}".encode()
                    await producer.send_and_wait(topic, value, key=key)
                    sent[topic].add(key)

    readers = {topic: topic_reader(f"{topic}.dlq") for topic in topics}
    dead: dict[str, list[tuple[bytes, bytes]]] = {topic: [] for topic in topics}
    entered = {topic: await reader.__aenter__() for topic, reader in readers.items()}
    try:
        repaired = await run_with_fault([load.views, load.signups], publish_poison)
        for topic, consumer in entered.items():
            dead[topic] = await dead_letter_keys(
                consumer, poison_tag, stack.group_prefix, expected=sent[topic]
            )
    finally:
        for reader in readers.values():
            await reader.__aexit__(None, None, None)
    # Every consumer group of a topic dead-letters a poison message once (the candidates
    # topic has two: notifications and the jobs service's erasure consumer).
    found = sum(len({key for key, _ in letters} & sent[t]) for t, letters in dead.items())
    extra = sum(len(letters) - len(set(letters)) for letters in dead.values())
    accepted = sum(len(keys) for keys in sent.values())
    outcome = report(
        Outcome(
            "poison and oversized messages: dead letters",
            accepted=accepted,
            found=found,
            lost=accepted - found,
            duplicated=extra,
            recovery_seconds=None,
        )
    )
    assert outcome.lost == 0
    assert outcome.duplicated == 0
    await check_views(stack, "poison on every topic", load.views, load.view_tag, repaired)
    await check_signups(stack, "poison on every topic", load.signups, load.signup_tag, repaired)


async def dead_letter_keys(
    consumer: AIOKafkaConsumer,
    poison_tag: str,
    group_prefix: str,
    *,
    expected: set[bytes],
    timeout: float = 60,
) -> list[tuple[bytes, bytes]]:
    """(key, consumer that dead-lettered it) of this run's dead letters from this stack's
    consumer groups (another stack on the broker dead-letters the same messages), read until
    all ``expected`` keys came and then two more seconds (time for a duplicate to show)."""
    letters: list[tuple[bytes, bytes]] = []
    deadline = time.monotonic() + timeout
    complete_at: float | None = None
    while time.monotonic() < deadline and (complete_at is None or time.monotonic() < complete_at):
        batches = await consumer.getmany(timeout_ms=500)
        for record in (record for records in batches.values() for record in records):
            headers = dict(record.headers)
            ours = headers.get("dlq-consumer-group", b"").startswith(group_prefix.encode())
            if ours and record.key and record.key.startswith(poison_tag.encode()):
                letters.append((record.key, headers["dlq-consumer"]))
        if complete_at is None and expected <= {key for key, _ in letters}:
            complete_at = time.monotonic() + 2
    return letters


def test_every_log_line_is_json(stack: FaultStack) -> None:
    import json

    logs = sorted(stack.logs.glob("*.log"))
    assert {path.stem for path in logs} >= {f"{service}-0" for service in SERVICES}
    for path in logs:
        lines = [line for line in path.read_text().splitlines() if line.strip()]
        assert lines, f"{path.name} is empty"
        for line in lines:
            assert "service" in json.loads(line), f"{path.name}: {line}"
