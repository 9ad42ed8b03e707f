"""The inbox: remember which events a consumer has handled, in the transaction of the effect."""

from collections.abc import Sequence
from uuid import UUID

from talent_shared.db import Connection


async def first_deliveries(
    connection: Connection, *, consumer: str, event_ids: Sequence[UUID]
) -> set[UUID]:
    """Record a batch of events as handled by ``consumer`` in one round trip; returns those not
    handled before (the others are redeliveries: skip them).

    Call inside the transaction that applies the events' effects: if it rolls back, so do
    these records, and the redelivered events are handled again.
    """
    rows = await connection.fetch(
        """INSERT INTO processed_events (consumer, event_id)
           SELECT $1, event_id FROM unnest($2::uuid[]) AS event_id
           ON CONFLICT DO NOTHING RETURNING event_id""",
        consumer,
        list(event_ids),
    )
    return {row["event_id"] for row in rows}


async def handled_before(
    connection: Connection, *, consumer: str, event_ids: Sequence[UUID]
) -> set[UUID]:
    """Which of these events ``consumer`` has recorded as handled (read only: for a consumer
    that applies a batch over several transactions and records it in the last one)."""
    rows = await connection.fetch(
        """SELECT event_id FROM processed_events
           WHERE consumer = $1 AND event_id = ANY($2::uuid[])""",
        consumer,
        list(event_ids),
    )
    return {row["event_id"] for row in rows}
