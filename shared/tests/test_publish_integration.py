"""publish_event and publish_events on the real broker: a batch's records are the records the
single path sends (key, value, headers, partition), so a key's partition, and so the order of a
visitor's views, do not depend on the endpoint."""

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import ConsumerRecord
from faststream.kafka import KafkaBroker

from talent_shared.envelope import Event, new_event
from talent_shared.events import VIEWS_TOPIC, JobViewed
from talent_shared.publishing import PublishFailedError, publish_event, publish_events
from talent_shared.settings import ServiceSettings
from tests.support.kafka import read_until, topic_reader

pytestmark = pytest.mark.integration

VISITORS = 12  # enough keys to land on every partition of the topic


def view_for(visitor: str) -> Event[Any]:
    viewed = JobViewed(visitor_id=visitor, job_id=uuid.uuid4(), viewed_at=datetime.now(UTC))
    return new_event(viewed, producer="test", correlation_id=f"corr-{visitor}")


async def published(
    broker: KafkaBroker, singles: list[Event[Any]], batch: list[Event[Any]]
) -> list[ConsumerRecord[bytes, bytes]]:
    """Publish ``singles`` one by one and ``batch`` at once; returns the records read back."""
    wanted = {event.data.key.encode() for event in singles + batch}
    async with topic_reader(VIEWS_TOPIC) as reader:
        for event in singles:
            await publish_event(broker, event.record(), timeout=10)
        await publish_events(broker, [event.record() for event in batch], timeout=10)
        seen: set[bytes] = set()
        records: list[ConsumerRecord[bytes, bytes]] = []

        def all_seen(record: ConsumerRecord[bytes, bytes]) -> bool:
            if record.key in wanted:
                seen.add(record.key)
                records.append(record)
            return seen == wanted

        await read_until(reader, all_seen)
    return records


async def test_a_batch_puts_each_key_on_the_partition_a_single_publish_does(
    kafka_broker: KafkaBroker,
) -> None:
    run = uuid.uuid4().hex[:8]
    singles = [view_for(f"single-{run}-{n}") for n in range(VISITORS)]
    batch = [view_for(event.data.key) for event in singles]
    records = await published(kafka_broker, singles, batch)
    partitions: dict[bytes, set[int]] = {}
    for record in records:
        partitions.setdefault(record.key, set()).add(record.partition)
    assert all(len(found) == 1 for found in partitions.values()), partitions
    assert len({p for found in partitions.values() for p in found}) > 1  # not all on one


async def test_a_batch_record_has_the_value_and_headers_of_a_single_publish(
    kafka_broker: KafkaBroker,
) -> None:
    run = uuid.uuid4().hex[:8]
    single, batched = view_for(f"one-{run}"), view_for(f"other-{run}")
    records = {record.key: record for record in await published(kafka_broker, [single], [batched])}
    single_record = records[single.data.key.encode()]
    batch_record = records[batched.data.key.encode()]
    assert batch_record.value == batched.to_bytes()
    assert [name for name, _ in batch_record.headers] == [n for n, _ in single_record.headers]
    assert dict(batch_record.headers) == {
        "content-type": b"",
        "correlation_id": f"corr-{batched.data.key}".encode(),
        "event_type": b"JobViewed",
    }


async def test_a_batch_on_a_stopped_broker_fails_as_unpublished() -> None:
    broker = KafkaBroker(ServiceSettings().kafka_bootstrap_servers)
    with pytest.raises(PublishFailedError):
        await publish_events(broker, [view_for("nobody").record()], timeout=1)
