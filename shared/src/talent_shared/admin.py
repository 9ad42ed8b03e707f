"""``talent-admin``: operator commands. ``dlq list|show|replay`` inspect dead letters and put them
back on their source topic; ``feedback ingest MAILDIR`` takes the bounces and complaints of the
bounce mailbox (see :mod:`talent_shared.feedback_intake`).

A dead letter is addressed as ``PARTITION:OFFSET`` in its dead-letter topic, as ``list`` prints it;
a bare ``OFFSET`` is enough when only one partition has it. Replay sends the original value, key
and headers (without the ``dlq-*`` ones) to the source topic; consumers deduplicate by event id,
so replaying a message twice has no further effect. Replaying a whole topic sends each distinct
message once, even if it was dead-lettered several times.
"""

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from talent_shared.events import dead_letter_topic
from talent_shared.feedback_intake import ingest
from talent_shared.settings import ServiceSettings

DLQ_SUFFIX = ".dlq"
DLQ_HEADER_PREFIX = "dlq-"
REPLAYED_FROM_HEADER = "dlq-replayed-from"
READ_TIMEOUT_SECONDS = 30.0
DEFAULT_NOTIFICATIONS_URL = "http://127.0.0.1:8003"


class UsageError(Exception):
    """The operator asked for something that is not there; exit 2 with the message."""


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    @classmethod
    def of(cls, record: "ConsumerRecord[bytes, bytes]") -> "DeadLetter":
        return cls(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            timestamp_ms=record.timestamp,
            key=record.key,
            value=record.value,
            headers=tuple(record.headers or ()),
        )

    @property
    def address(self) -> str:
        return f"{self.partition}:{self.offset}"

    def header(self, name: str) -> str:
        for key, value in self.headers:
            if key == name:
                return value.decode("utf-8", errors="replace")
        return ""

    @property
    def source_topic(self) -> str:
        return self.header("dlq-original-topic") or self.topic.removesuffix(DLQ_SUFFIX)

    def replay_headers(self) -> list[tuple[str, bytes]]:
        kept = [(k, v) for k, v in self.headers if not k.startswith(DLQ_HEADER_PREFIX)]
        return [*kept, (REPLAYED_FROM_HEADER, f"{self.topic}/{self.address}".encode())]

    def summary(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "key": _text(self.key),
            "error_type": self.header("dlq-error-type"),
            "error": self.header("dlq-error"),
            "source": (
                f"{self.source_topic}/{self.header('dlq-original-partition')}:"
                f"{self.header('dlq-original-offset')}"
            ),
            "timestamp_ms": self.timestamp_ms,
        }

    def details(self) -> dict[str, Any]:
        return {
            **self.summary(),
            "headers": {key: _text(value) for key, value in self.headers},
            "value": _text(self.value),
        }


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("utf-8", errors="backslashreplace")


def dlq_topic_of(topic: str) -> str:
    """Operators may name the source topic or its dead-letter topic."""
    return topic if topic.endswith(DLQ_SUFFIX) else dead_letter_topic(topic)


async def read_dead_letters(bootstrap: Sequence[str], topic: str) -> list[DeadLetter]:
    """Every dead letter now in ``topic`` (read from the start up to the current end)."""
    partitions = await partitions_of(bootstrap, topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=list(bootstrap), enable_auto_commit=False)
    await consumer.start()
    try:
        assigned = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        ends = await consumer.end_offsets(assigned)
        letters: list[DeadLetter] = []
        async with asyncio.timeout(READ_TIMEOUT_SECONDS):
            while [tp for tp in assigned if await consumer.position(tp) < ends[tp]]:
                batches = await consumer.getmany(timeout_ms=500)
                for tp, records in batches.items():
                    letters.extend(DeadLetter.of(r) for r in records if r.offset < ends[tp])
        return sorted(letters, key=lambda letter: (letter.partition, letter.offset))
    finally:
        await consumer.stop()


async def partitions_of(bootstrap: Sequence[str], topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=list(bootstrap))
    await admin.start()
    try:
        # Listed first: describing a missing topic asks for its metadata, and a broker that
        # creates topics on demand (Kafka's default) then creates it, a mistyped name included.
        if topic not in await admin.list_topics():
            raise UsageError(f"topic {topic} does not exist")
        [description] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if description["error_code"] != 0 or not description["partitions"]:
        raise UsageError(f"topic {topic} does not exist")
    return sorted(partition["partition"] for partition in description["partitions"])


@dataclass(frozen=True)
class Address:
    partition: int | None
    offset: int

    def __str__(self) -> str:
        return str(self.offset) if self.partition is None else f"{self.partition}:{self.offset}"


def parse_address(text: str) -> Address:
    """``OFFSET`` or ``PARTITION:OFFSET`` (argparse turns the error into a usage message)."""
    partition_text, _, offset_text = text.rpartition(":")
    try:
        address = Address(int(partition_text) if partition_text else None, int(offset_text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not OFFSET or PARTITION:OFFSET") from None
    if address.offset < 0 or (address.partition or 0) < 0:
        raise argparse.ArgumentTypeError(f"{text!r} has a negative number")
    return address


def select(letters: Sequence[DeadLetter], address: Address) -> DeadLetter:
    """The dead letter at ``PARTITION:OFFSET``, or at ``OFFSET`` when that is unambiguous."""
    offset, partition = address.offset, address.partition
    found = [
        letter
        for letter in letters
        if letter.offset == offset and partition in (None, letter.partition)
    ]
    if not found:
        raise UsageError(f"no dead letter at {address}")
    if len(found) > 1:
        choices = ", ".join(letter.address for letter in found)
        raise UsageError(f"offset {offset} is in several partitions; name one of {choices}")
    return found[0]


async def replay(bootstrap: Sequence[str], letters: Sequence[DeadLetter]) -> list[str]:
    """Send each distinct message back to its source topic; returns one line per message sent,
    naming where it now is."""
    distinct: dict[tuple[str, bytes | None, bytes | None], DeadLetter] = {}
    for letter in letters:
        distinct.setdefault((letter.source_topic, letter.key, letter.value), letter)
    producer = AIOKafkaProducer(
        bootstrap_servers=list(bootstrap), acks="all", enable_idempotence=True
    )
    await producer.start()
    sent = []
    try:
        for letter in distinct.values():
            placed = await producer.send_and_wait(
                letter.source_topic,
                letter.value,
                key=letter.key,
                headers=letter.replay_headers(),
            )
            sent.append(
                f"replayed {letter.topic} {letter.address} to "
                f"{placed.topic} {placed.partition}:{placed.offset}"
            )
    finally:
        await producer.stop()
    return sent


async def run(arguments: argparse.Namespace, bootstrap: Sequence[str]) -> None:
    letters = await read_dead_letters(bootstrap, dlq_topic_of(arguments.topic))
    if arguments.action == "list":
        for letter in letters:
            print(json.dumps(letter.summary()))
    elif arguments.action == "show":
        print(json.dumps(select(letters, arguments.offset).details(), indent=2))
    else:
        chosen = [select(letters, arguments.offset)] if arguments.offset else letters
        sent = await replay(bootstrap, chosen)
        for line in sent:
            print(line)
        print(f"{len(sent)} replayed")


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="talent-admin", description=__doc__.splitlines()[0])
    commands = root.add_subparsers(dest="command", required=True)
    dlq = commands.add_parser("dlq", help="inspect and replay dead letters")
    actions = dlq.add_subparsers(dest="action", required=True)
    topic_help = "the source topic (e.g. jobs.views.v1) or its dead-letter topic"
    listing = actions.add_parser("list", help="one JSON line per dead letter")
    listing.add_argument("topic", help=topic_help)
    show = actions.add_parser("show", help="one dead letter with its headers and value")
    show.add_argument("topic", help=topic_help)
    show.add_argument(
        "offset", type=parse_address, help="OFFSET or PARTITION:OFFSET, as list prints it"
    )
    replay_action = actions.add_parser("replay", help="put dead letters back on the source topic")
    replay_action.add_argument("topic", help=topic_help)
    replay_action.add_argument(
        "--offset", type=parse_address, help="only this one (OFFSET or PARTITION:OFFSET)"
    )
    feedback = commands.add_parser("feedback", help="bounces and complaints of the bounce mailbox")
    feedback_actions = feedback.add_subparsers(dest="action", required=True)
    intake = feedback_actions.add_parser(
        "ingest",
        help="post each new message of a Maildir to the notifications service "
        "(NOTIFICATIONS_URL, ADMIN_API_TOKEN); one JSON line each",
    )
    intake.add_argument("maildir", type=Path, help="the bounce mailbox, a Maildir")
    return root


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parser().parse_args(argv)
    settings = ServiceSettings()
    if arguments.command == "feedback":
        failed = ingest(
            arguments.maildir,
            notifications_url=os.environ.get("NOTIFICATIONS_URL", DEFAULT_NOTIFICATIONS_URL),
            admin_token=settings.admin_api_token.get_secret_value(),
        )
        return 1 if failed else 0
    try:
        asyncio.run(run(arguments, settings.kafka_bootstrap_servers))
    except UsageError as error:
        print(f"talent-admin: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
