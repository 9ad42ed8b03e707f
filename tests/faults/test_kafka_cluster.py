"""A three-broker cluster (KRaft, replication factor 3, min.insync.replicas=2): one broker is
SIGKILLed while job views and sign-ups flow, and nothing accepted is lost or duplicated. Once with
a single bootstrap address, once with the bootstrap list naming all three brokers, the first-named
one down while the services start. Last, with every broker down, a batch of job views gets 503
with Retry-After, never a 202 for events that are not durably in Kafka."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from devsupport.databases import fresh_database
from services.jobs.tests.helpers import new_visitor, post_job
from talent_jobs.app import create_app as create_jobs_app
from talent_jobs.settings import JobsSettings
from talent_shared.kafka import create_broker, ensure_topics
from talent_shared.settings import ServiceSettings
from tests.faults.harness import run_and_check, workload
from tests.faults.stack import fault_stack
from tests.support.fixtures import running, settings_for_test
from tests.support.kafka_cluster import KafkaCluster, kafka_cluster

# A three-JVM cluster start on a loaded 2-core machine can take a while.
pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.timeout(300)]

SCENARIO = "3 brokers (RF 3, min ISR 2), one SIGKILLed"


def cluster_env(bootstrap_servers: str) -> dict[str, str]:
    return {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers,
        "KAFKA_REPLICATION_FACTOR": "3",
        "KAFKA_TOPIC_PARTITIONS": "3",
    }


@pytest.fixture(scope="module")
async def cluster(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[KafkaCluster]:
    """The cluster with the contract's topics created at replication factor 3 while all three
    brokers are up (with one down, a topic of replication factor 3 cannot be created)."""
    async with kafka_cluster(tmp_path_factory.mktemp("kafka-cluster")) as running:
        settings = ServiceSettings(kafka_bootstrap_servers=running.bootstrap())
        broker = create_broker(settings)
        await broker.connect()
        try:
            await ensure_topics(broker, partitions=3, replication_factor=3)
        finally:
            await broker.stop()
        await running.wait_fully_replicated()
        yield running


@pytest.fixture
async def whole_cluster_afterwards(cluster: KafkaCluster) -> AsyncIterator[None]:
    """Every broker back and in sync after the test, for the next one."""
    yield
    for node in cluster.nodes:
        if not node.running():
            await asyncio.to_thread(cluster.start, node)
    await cluster.wait_fully_replicated()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield http


@pytest.mark.usefixtures("whole_cluster_afterwards")
async def test_broker_named_as_the_single_bootstrap_address_is_killed_under_load(
    cluster: KafkaCluster, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    named = cluster.node(1)
    async with fault_stack(tmp_path, env=cluster_env(named.address)) as stack:

        async def kill_the_named_broker() -> None:
            await asyncio.to_thread(cluster.kill, named)

        load = await workload(stack, client)
        scenario = f"{SCENARIO}, one bootstrap address"
        await run_and_check(stack, load, scenario, kill_the_named_broker, after=10)


@pytest.mark.usefixtures("whole_cluster_afterwards")
async def test_services_start_with_the_first_named_broker_down_and_survive_a_broker_kill(
    cluster: KafkaCluster, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    first, second = cluster.node(1), cluster.node(2)
    await asyncio.to_thread(cluster.stop, first)
    bootstrap_list = cluster.bootstrap()
    assert bootstrap_list.startswith(first.address + ",")
    async with fault_stack(tmp_path, env=cluster_env(bootstrap_list)) as stack:
        # Ready and consuming (fault_stack warms every consumer up) with the first broker down.
        await asyncio.to_thread(cluster.start, first)
        await cluster.wait_fully_replicated()

        async def kill_a_broker() -> None:
            await asyncio.to_thread(cluster.kill, second)

        load = await workload(stack, client)
        scenario = f"{SCENARIO}, bootstrap list of 3 (first down at start)"
        await run_and_check(stack, load, scenario, kill_a_broker, after=10)


@pytest.fixture
async def jobs_on_cluster(cluster: KafkaCluster) -> AsyncIterator[httpx.AsyncClient]:
    async with fresh_database("jobs") as database:
        settings = settings_for_test(
            JobsSettings,
            database,
            kafka_bootstrap_servers=cluster.bootstrap(),
            kafka_replication_factor=3,
        )
        async with running(create_jobs_app(settings)) as client:
            yield client


async def test_batch_is_503_with_retry_after_while_every_broker_is_down(
    cluster: KafkaCluster, jobs_on_cluster: httpx.AsyncClient
) -> None:
    job = await post_job(jobs_on_cluster)
    events = [{"visitor_id": new_visitor(), "job_id": job["job_id"]} for _ in range(50)]
    before = await jobs_on_cluster.post("/v1/job-views/batch", json={"events": events})
    assert before.status_code == 202, before.text
    for node in cluster.nodes:
        await asyncio.to_thread(cluster.kill, node)
    try:
        response = await jobs_on_cluster.post("/v1/job-views/batch", json={"events": events})
    finally:
        await restart_all(cluster)  # the service then stops cleanly, as it would in production
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    detail = response.json()["detail"]
    assert detail == "the job views could not be recorded right now; retry shortly"


async def restart_all(cluster: KafkaCluster) -> None:
    for node in cluster.nodes:  # all at once: a node waits for a quorum before it starts
        cluster.launch(node)
    for node in cluster.nodes:
        await asyncio.to_thread(cluster.wait_started, node)
