"""Suppressed addresses: nothing more is sent to an address that refused mail for good or whose
owner complained.

- A 5xx reply of the SMTP server to a delivery suppresses its address at once (the worker).
- A bounce (RFC 3464 DSN with a 5.x.x status) or a complaint (RFC 5965 feedback report) that
  arrives later comes in through ``POST /v1/email-feedback`` or ``talent-admin feedback
  ingest``: it names its delivery (VERP or Message-ID, see :mod:`.feedback`), whose address is
  suppressed. A complaint also unsubscribes the candidate: ``ComplaintReceived`` goes to signup,
  which owns the membership, through this service's outbox.
- Confirming changes from a repeat sign-up's email lifts it (:mod:`.candidates`).
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from uuid import UUID

from prometheus_client import Counter

from talent_notifications import delivery_log
from talent_notifications.feedback import read_feedback
from talent_shared.db import Connection
from talent_shared.envelope import new_event
from talent_shared.events import ComplaintReceived
from talent_shared.logging import get_logger
from talent_shared.outbox import OutboxRelay, enqueue

log = get_logger(__name__)

SUPPRESSED = Counter(
    "talent_addresses_suppressed_total", "Addresses suppressed, by reason", ["reason", "source"]
)
PRODUCER = "notifications"


@dataclass(frozen=True)
class FeedbackOutcome:
    kind: Literal["bounce", "complaint", "ignored"]
    delivery_id: UUID | None = None
    suppressed: bool = False


async def suppress_after_refusal(
    connection: Connection, delivery_id: UUID, address: str, *, refusal: str
) -> None:
    """The SMTP server refused ``address`` for good while sending ``delivery_id``."""
    await delivery_log.suppress(connection, address, reason="bounce", detail=refusal)
    SUPPRESSED.labels("bounce", "smtp").inc()
    log.warning("address suppressed after a permanent refusal", delivery_id=str(delivery_id))


async def ingest_feedback(
    relay: OutboxRelay,
    raw: bytes,
    correlation_id: str,
    *,
    bounce_address: str,
    message_domain: str,
) -> FeedbackOutcome:
    """Apply one report; a report naming none of our deliveries, or no permanent failure, is
    ignored. Idempotent: a report read twice suppresses (and unsubscribes) once more, to the
    same effect."""
    feedback = read_feedback(raw, bounce_address=bounce_address, message_domain=message_domain)
    if feedback is None:
        return FeedbackOutcome("ignored")
    async with relay.transaction() as connection:
        delivery = await delivery_log.fetch_delivery(connection, feedback.delivery_id)
        if delivery is None or delivery["to_address"] is None:  # unknown, or erased since
            return FeedbackOutcome("ignored", feedback.delivery_id)
        await delivery_log.suppress(
            connection, delivery["to_address"], reason=feedback.kind, detail=feedback.reason
        )
        if feedback.kind == "complaint":
            complaint = ComplaintReceived(
                candidate_id=delivery["candidate_id"], received_at=datetime.now(UTC)
            )
            event = new_event(complaint, producer=PRODUCER, correlation_id=correlation_id)
            await enqueue(connection, event)
    SUPPRESSED.labels(feedback.kind, "report").inc()
    log.info("email feedback applied", kind=feedback.kind, delivery_id=str(feedback.delivery_id))
    return FeedbackOutcome(feedback.kind, feedback.delivery_id, suppressed=True)
