"""The inbox: remember which events a consumer has handled, in the transaction of the effect."""

from uuid import UUID

from talent_shared.db import Connection


async def first_delivery(connection: Connection, *, consumer: str, event_id: UUID) -> bool:
    """Record the event as handled by ``consumer``; ``False`` when it already was (skip it).

    Call inside the transaction that applies the event's effect: if that transaction rolls back,
    so does this record, and the redelivered event is handled again.
    """
    inserted = await connection.fetchval(
        """INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2)
           ON CONFLICT DO NOTHING RETURNING true""",
        consumer,
        event_id,
    )
    return bool(inserted)
