"""Consumer lag and the oldest pending outbox row are exported as gauges, and every metric the
alert rules and the dashboard name is exported by a running service's /metrics."""

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import promql_parser
import pytest
import yaml
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faststream.kafka import KafkaBroker
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from devsupport.infra import kafka_bootstrap
from talent_shared.db import Pool
from talent_shared.envelope import new_event
from talent_shared.events import JobViewed
from talent_shared.monitoring import OperationsMonitor
from talent_shared.outbox import enqueue
from tests.robustness.stack import ProcessStack, process_stack
from tests.support.kafka import raw_producer

pytestmark = pytest.mark.integration

MONITORING = Path(__file__).resolve().parents[2] / "deploy" / "monitoring"
SAMPLE_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("_sum", "_count", "_created", ""),
}


def alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load((MONITORING / "alerts.yml").read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def dashboard_queries() -> list[str]:
    dashboard = json.loads((MONITORING / "dashboard.json").read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def metric_names(query: str) -> set[str]:
    """Every metric a PromQL query selects (parsing it also proves it is valid PromQL)."""
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)

    promql_parser.walk(promql_parser.parse(query), visit)
    return names


def exported_names(exposition: str) -> set[str]:
    """Sample names a /metrics page exports, also for metrics with no sample yet."""
    return {
        family.name + suffix
        for family in text_string_to_metric_families(exposition)
        for suffix in SAMPLE_SUFFIXES.get(family.type, ("",))
    }


@pytest.fixture(scope="module")
async def processes(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ProcessStack]:
    async with process_stack(tmp_path_factory.mktemp("monitoring-logs")) as stack:
        yield stack


def test_alert_rules_cover_lag_dead_letters_delivery_failures_and_outbox_age() -> None:
    named = {name for rule in alert_rules() for name in metric_names(rule["expr"])}
    assert {
        "talent_kafka_consumer_lag",
        "talent_events_handled_total",
        "talent_emails_total",
        "talent_outbox_oldest_pending_age_seconds",
    } <= named
    for rule in alert_rules():
        assert rule["alert"].startswith("Talent")
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]


def test_dashboard_panels_each_have_a_query() -> None:
    dashboard = json.loads((MONITORING / "dashboard.json").read_text())
    assert dashboard["uid"] == "talent-network"
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]
    assert all(metric_names(query) for query in dashboard_queries())


async def test_every_metric_of_the_alerts_and_dashboard_is_exported(
    processes: ProcessStack,
) -> None:
    exported: set[str] = set()
    async with httpx.AsyncClient(timeout=10) as client:
        for service in processes.processes:
            response = await client.get(f"{processes.url(service)}/metrics")
            assert response.status_code == 200
            exported |= exported_names(response.text)
    queries = [rule["expr"] for rule in alert_rules()] + dashboard_queries()
    named = {name for query in queries for name in metric_names(query)}
    assert named - exported == set()


async def test_consumer_lag_is_the_end_offset_minus_the_committed_offset(
    kafka_broker: KafkaBroker,
) -> None:
    topic, group = f"test-lag-{uuid.uuid4().hex[:8]}", f"test-lag-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap())
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()
    async with raw_producer() as producer:
        for number in range(5):
            await producer.send_and_wait(topic, str(number).encode())
    committer = AIOKafkaConsumer(
        bootstrap_servers=kafka_bootstrap(), group_id=group, enable_auto_commit=False
    )
    await committer.start()
    try:
        committer.assign([TopicPartition(topic, 0)])
        await committer.commit({TopicPartition(topic, 0): 2})
    finally:
        await committer.stop()
    monitor = OperationsMonitor(
        broker=kafka_broker,
        bootstrap_servers=[kafka_bootstrap()],
        pool=None,
        groups={group: [topic]},
        interval_seconds=3600,
    )
    await monitor.start()
    try:
        await monitor.refresh()
    finally:
        await monitor.stop()
    labels = {"group": group, "topic": topic, "partition": "0"}
    assert REGISTRY.get_sample_value("talent_kafka_consumer_lag", labels) == 3


async def test_outbox_age_is_the_age_of_the_oldest_pending_row(
    shared_pool: Pool, kafka_broker: KafkaBroker
) -> None:
    event = new_event(
        JobViewed(visitor_id="v", job_id=uuid.uuid4(), viewed_at=datetime.now(UTC)),
        producer="test",
    )
    async with shared_pool.acquire() as connection:
        await enqueue(connection, event)
        await connection.execute(
            "UPDATE outbox SET created_at = now() - interval '120 seconds' WHERE event_id = $1",
            event.event_id,
        )
    monitor = OperationsMonitor(
        broker=kafka_broker, bootstrap_servers=[], pool=shared_pool, groups={}
    )
    await monitor.refresh()
    age = REGISTRY.get_sample_value("talent_outbox_oldest_pending_age_seconds")
    assert age is not None
    assert 120 <= age < 3600
    await shared_pool.execute("UPDATE outbox SET published_at = now()")
    await monitor.refresh()
    assert REGISTRY.get_sample_value("talent_outbox_oldest_pending_age_seconds") == 0
