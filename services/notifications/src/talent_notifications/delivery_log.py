"""SQL of the delivery log and of the suppressed addresses. Functions take a connection so callers
choose the transaction.

A delivery row is written before its email is sent; its dedup key makes a second email for the
same reason impossible. A worker leases due rows with a token of its own; it confirms the token
right before it sends, and only the holder of the current token may mark the row, so a worker
that was paused past its lease neither sends what another worker took over nor marks it.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal
from uuid import UUID

import asyncpg

from talent_notifications.emails import RenderedEmail
from talent_shared.db import Connection
from talent_shared.tracing import TraceContext, current_trace_context

# Sent whatever the suppression: the link in them is how an address is lifted from it.
CHANGE_KINDS = ("change_confirmation", "already_member")
ADDRESS_HASH = "sha256(convert_to(lower({}), 'UTF8'))"


@dataclass(frozen=True)
class NewDelivery:
    delivery_id: UUID
    dedup_key: str
    candidate_id: UUID
    kind: str
    to_address: str
    content: RenderedEmail
    job_ids: list[UUID]
    # Recorded while handling an event: its trace continues when the email is sent.
    trace_context: TraceContext | None = field(default_factory=current_trace_context)

    def values(self) -> tuple[object, ...]:
        return (
            self.delivery_id,
            self.dedup_key,
            self.candidate_id,
            self.kind,
            self.to_address,
            self.content.subject,
            self.content.text,
            self.content.html,
            self.job_ids,
            self.trace_context,
        )


INSERT_DELIVERY = """INSERT INTO deliveries (delivery_id, dedup_key, candidate_id, kind, to_address,
                                          subject, body_text, body_html, job_ids, trace_context)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                     ON CONFLICT (dedup_key) DO NOTHING"""


async def insert_delivery(connection: Connection, delivery: NewDelivery) -> bool:
    """Record an email to send; ``False`` when one with this dedup key exists already."""
    inserted = await connection.fetchval(f"{INSERT_DELIVERY} RETURNING true", *delivery.values())
    return bool(inserted)


async def insert_deliveries(connection: Connection, deliveries: list[NewDelivery]) -> None:
    """Record many emails in one pipelined round trip (existing dedup keys are skipped)."""
    if deliveries:
        await connection.executemany(INSERT_DELIVERY, [d.values() for d in deliveries])


async def claim_due_deliveries(
    connection: Connection, *, limit: int, lease_seconds: float, worker: str
) -> list[asyncpg.Record]:
    """Take due pending deliveries for sending, each with a new lease token, so no other
    worker takes them meanwhile; a worker that dies mid-send leaves them due again when the
    lease ends."""
    return await connection.fetch(
        """UPDATE deliveries AS d
           SET attempts = d.attempts + 1, lease_token = gen_random_uuid(), leased_by = $3,
               next_attempt_at = clock_timestamp() + make_interval(secs => $2)
           FROM (SELECT delivery_id FROM deliveries
                 WHERE status = 'pending' AND next_attempt_at <= clock_timestamp()
                 ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED) AS due
           WHERE d.delivery_id = due.delivery_id
           RETURNING d.*""",
        limit,
        lease_seconds,
        worker,
    )


Lease = Literal["held", "lost", "suppressed"]


async def confirm_lease(
    connection: Connection, delivery_id: UUID, lease_token: UUID, *, lease_seconds: float
) -> Lease:
    """Right before sending: ``held`` (and the lease runs ``lease_seconds`` from now) when the
    token is still the delivery's and it is still pending; ``lost`` when another worker took it
    over or it is done; ``suppressed`` (and recorded so) when its address is suppressed."""
    row = await connection.fetchrow(
        f"""UPDATE deliveries AS d
            SET next_attempt_at = clock_timestamp() + make_interval(secs => $3),
                status = CASE WHEN s.address_hash IS NULL THEN 'pending' ELSE 'suppressed' END,
                last_error = CASE WHEN s.address_hash IS NULL THEN d.last_error
                                  ELSE 'address suppressed: ' || s.reason END
            FROM deliveries AS current
            LEFT JOIN suppressions AS s
                   ON s.address_hash = {ADDRESS_HASH.format("current.to_address")}
                  AND current.kind NOT IN {CHANGE_KINDS}
            WHERE d.delivery_id = $1 AND current.delivery_id = d.delivery_id
              AND d.lease_token = $2 AND d.status = 'pending'
            RETURNING d.status""",
        delivery_id,
        lease_token,
        lease_seconds,
    )
    if row is None:
        return "lost"
    return "suppressed" if row["status"] == "suppressed" else "held"


async def mark_sent(connection: Connection, leases: Sequence[tuple[UUID, UUID]]) -> None:
    """Mark sent the deliveries of these (delivery id, lease token) pairs still so leased."""
    await connection.execute(
        """UPDATE deliveries AS d SET status = 'sent', sent_at = clock_timestamp(),
                  last_error = NULL
           FROM unnest($1::uuid[], $2::uuid[]) AS sent(delivery_id, lease_token)
           WHERE d.delivery_id = sent.delivery_id AND d.lease_token = sent.lease_token
             AND d.status = 'pending'""",
        [delivery_id for delivery_id, _ in leases],
        [token for _, token in leases],
    )


async def mark_retry(
    connection: Connection,
    delivery_id: UUID,
    lease_token: UUID,
    *,
    error: str,
    delay_seconds: float,
) -> None:
    await connection.execute(
        """UPDATE deliveries SET last_error = $3,
                  next_attempt_at = clock_timestamp() + make_interval(secs => $4)
           WHERE delivery_id = $1 AND lease_token = $2 AND status = 'pending'""",
        delivery_id,
        lease_token,
        error,
        delay_seconds,
    )


async def mark_failed(
    connection: Connection, delivery_id: UUID, lease_token: UUID, *, error: str
) -> bool:
    """``True`` when this lease still held the delivery (and it is now failed)."""
    marked = await connection.fetchval(
        """UPDATE deliveries SET status = 'failed', last_error = $3
           WHERE delivery_id = $1 AND lease_token = $2 AND status = 'pending'
           RETURNING true""",
        delivery_id,
        lease_token,
        error,
    )
    return bool(marked)


async def fetch_delivery(connection: Connection, delivery_id: UUID) -> asyncpg.Record | None:
    return await connection.fetchrow(
        "SELECT delivery_id, candidate_id, kind, to_address FROM deliveries WHERE delivery_id = $1",
        delivery_id,
    )


async def deliveries_to(connection: Connection, email: str) -> list[asyncpg.Record]:
    return await connection.fetch(
        """SELECT delivery_id, kind, to_address, subject, status, attempts, job_ids, created_at,
                  sent_at
           FROM deliveries WHERE lower(to_address) = lower($1) ORDER BY created_at""",
        email,
    )


# --- suppressed addresses ----------------------------------------------------------------------


async def suppress(connection: Connection, address: str, *, reason: str, detail: str) -> None:
    """Nothing more is sent to ``address`` (a complaint outranks a bounce already there)."""
    await connection.execute(
        f"""INSERT INTO suppressions (address_hash, reason, detail)
            VALUES ({ADDRESS_HASH.format("$1")}, $2, $3)
            ON CONFLICT (address_hash) DO UPDATE
            SET reason = CASE WHEN excluded.reason = 'complaint' THEN excluded.reason
                              ELSE suppressions.reason END,
                detail = excluded.detail, suppressed_at = excluded.suppressed_at""",
        address,
        reason,
        detail[:500],
    )


async def lift_suppression(connection: Connection, address: str) -> bool:
    """Mail may go to ``address`` again; ``True`` when it was suppressed."""
    lifted = await connection.fetchval(
        f"DELETE FROM suppressions WHERE address_hash = {ADDRESS_HASH.format('$1')} RETURNING true",
        address,
    )
    return bool(lifted)


async def is_suppressed(connection: Connection, address: str) -> bool:
    return bool(
        await connection.fetchval(
            f"SELECT true FROM suppressions WHERE address_hash = {ADDRESS_HASH.format('$1')}",
            address,
        )
    )
