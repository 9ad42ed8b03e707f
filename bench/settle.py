"""Between measures: wait until the notifications service has handled every event the other
services published meanwhile, then put its database back as the reference data set left it.

Handled means recorded in its inbox (processed_events), which each consumer writes in the
transaction that applied the event, the last one for a job's matching: an event of the signup or
jobs outbox is handled once its id is there.

A measure's matches open alert windows that close 300 s later (ALERT_WINDOW_SECONDS, as
shipped); the alerts would then be recorded and sent in the middle of a later measure. The bench
deletes the waiting matches, windows and digest queue a measure left (they are the bench's own:
the reference data set has none), so each measure starts from the same state.
"""

from dataclasses import dataclass

import asyncpg

from bench.common import until
from bench.stack import Stack
from talent_shared.events import CANDIDATES_TOPIC, POSTINGS_TOPIC

# Who publishes what the notifications service consumes, and its consumer's name in the inbox.
PUBLISHED = (("signup", CANDIDATES_TOPIC, "candidates"), ("jobs", POSTINGS_TOPIC, "jobs"))


@dataclass(frozen=True)
class Handled:
    """The events published since :func:`mark`, and whether notifications handled them all."""

    stack: Stack
    marks: dict[str, int]  # the last outbox row of each publishing database at the mark

    async def _event_ids(self, service: str, topic: str) -> list[object]:
        connection = await asyncpg.connect(getattr(self.stack.databases, service))
        try:
            rows = await connection.fetch(
                "SELECT event_id FROM outbox WHERE id > $1 AND topic = $2",
                self.marks[service], topic,
            )  # fmt: skip
        finally:
            await connection.close()
        return [row["event_id"] for row in rows]

    async def all_handled(self) -> bool:
        notifications = await asyncpg.connect(self.stack.databases.notifications)
        try:
            for service, topic, consumer in PUBLISHED:
                event_ids = await self._event_ids(service, topic)
                handled = await notifications.fetchval(
                    """SELECT count(*) FROM processed_events
                       WHERE consumer = $1 AND event_id = ANY($2::uuid[])""",
                    consumer, event_ids,
                )  # fmt: skip
                if handled < len(event_ids):
                    return False
            return True
        finally:
            await notifications.close()

    async def wait(self, timeout: float) -> float:
        """Seconds until every event is handled; raises past ``timeout``."""
        return await until(self.all_handled, every=0.25, timeout=timeout, what="notifications")


async def mark(stack: Stack) -> Handled:
    marks = {}
    for service, _, _ in PUBLISHED:
        connection = await asyncpg.connect(getattr(stack.databases, service))
        try:
            marks[service] = await connection.fetchval("SELECT coalesce(max(id), 0) FROM outbox")
        finally:
            await connection.close()
    return Handled(stack, marks)


async def settle(handled: Handled, *, timeout: float = 1800) -> None:
    """Until notifications has handled every event and no email is due, then the reference
    state again (see the module docstring)."""
    await handled.wait(timeout)
    notifications = await asyncpg.connect(handled.stack.databases.notifications)

    async def nothing_due() -> bool:
        return not await notifications.fetchval(
            "SELECT EXISTS (SELECT FROM deliveries WHERE status = 'pending' "
            "AND next_attempt_at <= clock_timestamp())"
        )

    try:
        await until(nothing_due, every=0.25, timeout=timeout, what="the emails due")
        await notifications.execute("TRUNCATE alert_windows, alerted_jobs, digest_queue")
    finally:
        await notifications.close()
