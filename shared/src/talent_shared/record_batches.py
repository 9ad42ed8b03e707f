"""One shared open record batch per partition, for publishers that send many records at once.

``producer.send`` costs a coroutine, a size estimate, a partition lookup and a future per record.
Appending to a :class:`~aiokafka.producer.message_accumulator.BatchBuilder` costs much less, but
aiokafka holds a hand-built batch until the previous batch of its partition has left, so a batch
per request sends concurrent requests one round trip each. Here every publisher appends to the
same open batch of a partition instead: it is handed to ``send_batch`` as soon as no earlier batch
of that partition is in flight (at once when the partition is idle, when the previous batch is
acknowledged otherwise), and meanwhile fills with whatever concurrent requests append. A full
batch is closed and the next record starts a new one, sent after it.

One batch of a partition in flight at a time, in append order, on the producer's idempotent
session: a key's records stay in order. Each record's future resolves when its batch is
acknowledged (the producer's ``acks``), and fails when the batch is not.
"""

import asyncio
import weakref
from collections import deque
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.errors import MessageSizeTooLargeError
from aiokafka.producer.message_accumulator import BatchBuilder

Headers = list[tuple[str, bytes]]

# Keys whose partition is remembered, per topic, before starting afresh (a few MB at most).
MAX_KEYS_REMEMBERED = 50_000


@dataclass(eq=False)
class _Batch:
    builder: BatchBuilder
    acked: "asyncio.Future[None]"


@dataclass(eq=False)
class _Partition:
    """The batches of one partition not yet handed to the producer, the last one open."""

    waiting: deque[_Batch] = field(default_factory=deque)
    in_flight: bool = False
    flush_scheduled: bool = False


class RecordBatches:
    """Appends records to shared per-partition batches of one producer (see the module doc).

    ``timeout``: how long a batch handed to the producer may take to be acknowledged before its
    records' futures fail (the producer may still deliver it; nobody was told it did)."""

    def __init__(self, producer: AIOKafkaProducer, *, timeout: float) -> None:
        self._producer = producer
        self._timeout = timeout
        self._partitions: dict[TopicPartition, _Partition] = {}
        self._sending: set[asyncio.Task[None]] = set()
        # Per topic: its partition count when the keys' partitions below were computed.
        self._known: dict[str, tuple[int, dict[bytes, TopicPartition]]] = {}

    async def ready(self, topic: str) -> None:
        """Wait until the producer knows the topic's partitions (at once when it does); the keys'
        partitions remembered for it are forgotten when their number changed."""
        count = len(await self._producer.partitions_for(topic))
        known = self._known.get(topic)
        if known is None or known[0] != count or len(known[1]) >= MAX_KEYS_REMEMBERED:
            self._known[topic] = (count, {})

    def partition_for(self, topic: str, key: bytes) -> int:
        """The partition ``producer.send`` would choose for ``key`` (its own partitioner)."""
        partition: int = self._producer._partition(topic, None, key, None, key, None)
        return partition

    def _topic_partition(self, topic: str, key: bytes) -> TopicPartition:
        """:meth:`partition_for`, remembered per key: murmur2 in Python costs a few µs a record."""
        keys = self._known[topic][1]
        tp = keys.get(key)
        if tp is None:
            tp = keys[key] = TopicPartition(topic, self.partition_for(topic, key))
        return tp

    def append(
        self, topic: str, key: bytes, value: bytes, headers: Headers
    ) -> "asyncio.Future[None]":
        """Add a record to the open batch of its key's partition (after :meth:`ready`).

        The returned future, shared by every record of that batch, resolves once the batch is
        acknowledged."""
        tp = self._topic_partition(topic, key)
        partition = self._partitions.get(tp)
        if partition is None:
            partition = self._partitions[tp] = _Partition()
        batch = self._append(partition, key, value, headers)
        if not partition.in_flight and not partition.flush_scheduled:
            # Sent after the caller's other appends of this turn of the loop, not with one record.
            partition.flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush, tp)
        return batch.acked

    def _append(self, partition: _Partition, key: bytes, value: bytes, headers: Headers) -> _Batch:
        if partition.waiting and not partition.waiting[-1].builder.closed():
            batch = partition.waiting[-1]
            if batch.builder.append(timestamp=None, key=key, value=value, headers=headers):
                return batch  # otherwise it was full, and closed itself
        batch = _Batch(self._producer.create_batch(), asyncio.get_running_loop().create_future())
        # Retrieved here, so a failure nobody waits for any more (a request that timed out) is
        # not reported as never retrieved.
        batch.acked.add_done_callback(_retrieve)
        if batch.builder.append(timestamp=None, key=key, value=value, headers=headers) is None:
            raise MessageSizeTooLargeError(f"a record of {len(value)} bytes fits in no batch")
        partition.waiting.append(batch)
        return batch

    def _flush(self, tp: TopicPartition) -> None:
        """Hand the partition's oldest waiting batch to the producer, unless one is in flight."""
        partition = self._partitions[tp]
        partition.flush_scheduled = False
        if partition.in_flight or not partition.waiting:
            return
        batch = partition.waiting.popleft()
        # Closed: the producer sends it without lingering, and nothing joins it once handed over.
        batch.builder.close()
        partition.in_flight = True
        task = asyncio.get_running_loop().create_task(self._send(tp, batch))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, tp: TopicPartition, batch: _Batch) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                delivery = await self._producer.send_batch(
                    batch.builder, tp.topic, partition=tp.partition
                )
                await delivery
        except BaseException as error:
            if not batch.acked.done():
                batch.acked.set_exception(error)
            if not isinstance(error, Exception):
                raise
        else:
            if not batch.acked.done():
                batch.acked.set_result(None)
        finally:
            self._partitions[tp].in_flight = False
            self._flush(tp)

    async def close(self) -> None:
        """Wait for the batches in flight (and those queued behind them) to settle."""
        while self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)


_OF_PRODUCER: "weakref.WeakKeyDictionary[AIOKafkaProducer, RecordBatches]" = (
    weakref.WeakKeyDictionary()
)


def record_batches_of(producer: AIOKafkaProducer, *, timeout: float) -> RecordBatches:
    """The producer's :class:`RecordBatches`, made on first use (one per producer, so one open
    batch per partition for every publisher of the process)."""
    batches = _OF_PRODUCER.get(producer)
    if batches is None:
        batches = _OF_PRODUCER[producer] = RecordBatches(producer, timeout=timeout)
    return batches


def _retrieve(future: "asyncio.Future[None]") -> None:
    if not future.cancelled():
        future.exception()
