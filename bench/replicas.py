"""Consumer throughput of 1 against 2 notifications replicas, with 2 ms of round trip added
between them and PostgreSQL (toxiproxy: 1 ms each way), as a managed database has.

The database holds the reference data set (each sign-up is matched against its 3,000 jobs). A
raw producer puts sign-up events (CandidateSignedUp, the reference data set's spreads) on the
candidates topic, faster than they are consumed; the throughput is events a second from the
first sent to the last welcome recorded. The delivery worker's SMTP server accepts connections
and never greets, so the worker holds its first batch and sends nothing: what is measured is the
consumers. The topic has 12 partitions, as the README deploys it (3, the local default, would
give two replicas 2 and 1).
"""

import asyncio
import random
import socket
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions

from bench.common import Options, until
from bench.reference_data import preferences_like_ours
from bench.stack import launch, shipped_environment
from bench.table import Goal, Row
from bench.toxiproxy import latency_proxy
from devsupport.infra import kafka_bootstrap
from devsupport.ports import free_port
from devsupport.services import ServiceProcess
from talent_shared.envelope import new_event
from talent_shared.events import CANDIDATES_TOPIC, CandidateSignedUp

EVENTS = 4_000
PARTITIONS = 12
ADDED_LATENCY_MS = 1  # each way


async def measure(notifications_url: str, logs: Path, options: Options) -> list[Row]:
    del options
    await _partitions_at_least(PARTITIONS)
    async with latency_proxy(notifications_url, ADDED_LATENCY_MS) as (proxied_url, round_trip):
        one = await events_per_second(proxied_url, notifications_url, logs, replicas=1)
        two = await events_per_second(proxied_url, notifications_url, logs, replicas=2)
    return [
        Row("replicas", "notifications consumer throughput, 2 replicas against 1 (2 ms added "
            "round trip to PostgreSQL)", two / one, "x", Goal("at_least", 1.6),
            detail=f"{EVENTS:,} sign-up events: 1 replica {one:,.0f} events/s, 2 replicas "
            f"{two:,.0f} events/s; SELECT 1 round trip through the proxy p50 {round_trip:.1f} ms"),
    ]  # fmt: skip


async def events_per_second(
    proxied_url: str, direct_url: str, logs: Path, *, replicas: int
) -> float:
    """The replicas reach the database through the proxy; the bench's own reads go straight
    to it, to stay cheap."""
    async with _replicas(proxied_url, logs, replicas) as processes:
        await _all_consuming(direct_url, processes)
        candidate_ids = [uuid.uuid4() for _ in range(EVENTS)]
        started = time.time()
        await produce(candidate_ids)
        last = await _until_welcomed(direct_url, candidate_ids)
    return EVENTS / (last - started)


@asynccontextmanager
async def _replicas(
    database_url: str, logs: Path, count: int
) -> AsyncIterator[list[ServiceProcess]]:
    silent = socket.create_server(("127.0.0.1", 0), backlog=64)  # never accepts
    environment = shipped_environment(
        sink_port=silent.getsockname()[1], gateway_url="http://127.0.0.1:8080",
        group_prefix=f"bench-replicas-{uuid.uuid4().hex[:8]}.",
        mail_domain="replicas.bench.example.org",
    )  # fmt: skip
    environment["SMTP_TIMEOUT_SECONDS"] = "600"
    processes = [
        launch("notifications", environment, logs, database_url=database_url, port=free_port())
        for _ in range(count)
    ]
    try:
        await asyncio.gather(*(asyncio.to_thread(p.wait_ready, 120) for p in processes))
        yield processes
    finally:
        silent.close()  # the workers' connections are reset: they stop at once
        for process in processes:
            await asyncio.to_thread(process.terminate)


async def _all_consuming(database_url: str, processes: list[ServiceProcess]) -> None:
    """Until a sign-up on every partition is welcomed twice in a row (a replica joining later
    would rebalance the group in the middle of the measure)."""
    for _ in range(2):
        warm_ups = [uuid.uuid4() for _ in range(PARTITIONS)]
        await produce(warm_ups, on_partitions=True)
        await _until_welcomed(database_url, warm_ups)
        await asyncio.sleep(len(processes) * 3)  # a later join rebalances meanwhile


async def produce(candidate_ids: list[uuid.UUID], *, on_partitions: bool = False) -> None:
    rng = random.Random("bench replica sign-ups")
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap(), acks="all", linger_ms=5)
    await producer.start()
    try:
        sent = []
        for n, candidate_id in enumerate(candidate_ids):
            preferences = preferences_like_ours(rng)
            data = CandidateSignedUp(
                candidate_id=candidate_id, email=f"{candidate_id}@replicas.bench.example.org",
                first_name="Bench", last_name="Replica", signed_up_at=datetime.now(UTC),
                interests=preferences.interests, locations=preferences.locations,
                keywords=preferences.keywords, alert_frequency=preferences.alert_frequency,
            )  # fmt: skip
            event = new_event(data, producer="bench").to_bytes()
            partition = n % PARTITIONS if on_partitions else None
            key = str(candidate_id).encode()
            sent.append(await producer.send(CANDIDATES_TOPIC, event, key=key, partition=partition))
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def _until_welcomed(database_url: str, candidate_ids: list[uuid.UUID]) -> float:
    """Epoch seconds of the last of their welcomes recorded, once all are."""
    connection = await asyncpg.connect(database_url)
    last: datetime | None = None

    async def all_welcomed() -> bool:
        nonlocal last
        recorded, last = await connection.fetchrow(
            """SELECT count(*), max(created_at) FROM deliveries
               WHERE kind = 'welcome' AND candidate_id = ANY($1::uuid[])""",
            candidate_ids,
        ) or (0, None)
        return bool(recorded == len(candidate_ids))

    try:
        await until(all_welcomed, every=0.2, timeout=600, what="the welcomes")
        assert last is not None
        return last.timestamp()
    finally:
        await connection.close()


async def _partitions_at_least(count: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap())
    await admin.start()
    try:
        [description] = await admin.describe_topics([CANDIDATES_TOPIC])
        if len(description["partitions"]) < count:
            print(f"bench: {CANDIDATES_TOPIC} from {len(description['partitions'])} to {count} "
                  "partitions, as deployed", flush=True)  # fmt: skip
            await admin.create_partitions({CANDIDATES_TOPIC: NewPartitions(count)})
    finally:
        await admin.close()
