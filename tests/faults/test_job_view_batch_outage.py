"""A batch of job views while Kafka cannot take them: 503 with Retry-After, never a 202 for
events that are not durably in Kafka. On a private three-broker cluster (so the shared broker
other tests use keeps running) whose brokers are SIGKILLed."""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from services.jobs.tests.helpers import new_visitor, post_job
from talent_jobs.app import create_app as create_jobs_app
from talent_jobs.settings import JobsSettings
from talent_shared.kafka import create_broker, ensure_topics
from talent_shared.settings import ServiceSettings
from tests.support.fixtures import running, settings_for_test
from tests.support.infra import fresh_database
from tests.support.kafka_cluster import KafkaCluster, kafka_cluster

pytestmark = [pytest.mark.integration, pytest.mark.faults]


@pytest.fixture(scope="module")
async def cluster(
    infrastructure: None, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[KafkaCluster]:
    async with kafka_cluster(tmp_path_factory.mktemp("batch-outage-kafka")) as started:
        broker = create_broker(ServiceSettings(kafka_bootstrap_servers=started.bootstrap()))
        await broker.connect()
        try:
            await ensure_topics(broker, partitions=3, replication_factor=3)
        finally:
            await broker.stop()
        await started.wait_fully_replicated()
        yield started


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


async def test_batch_is_503_with_retry_after_while_kafka_is_down(
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
        await restart(cluster)  # the service then stops cleanly, as it would in production
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    detail = response.json()["detail"]
    assert detail == "the job views could not be recorded right now; retry shortly"


async def restart(cluster: KafkaCluster) -> None:
    for node in cluster.nodes:  # all at once: a node waits for a quorum before it starts
        cluster.launch(node)
    for node in cluster.nodes:
        await asyncio.to_thread(cluster.wait_started, node)
