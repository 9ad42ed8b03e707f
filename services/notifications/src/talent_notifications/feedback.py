"""Bounces and complaints, read with the standard library's email package.

A delivery status notification (RFC 3464: ``multipart/report; report-type=delivery-status``) with
an ``Action: failed`` recipient and a 5.x.x ``Status`` is a bounce; a feedback report (RFC 5965:
``report-type=feedback-report``) is a complaint. Either names our delivery by the per-delivery
envelope sender it went back to (``bounces+<delivery id>@domain``, VERP) or by the Message-ID of
the returned original (``<delivery id>@domain``). A report that names none of our deliveries, or
that reports no permanent failure (a delay, a success), is ignored: an address is never suppressed
on the word of a report about someone else's mail.
"""

import email
import email.policy
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from typing import Literal
from uuid import UUID

UUID_PATTERN = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# Headers of the report itself that may hold the address it was sent to (our VERP address).
RECEIVED_AT = ("to", "delivered-to", "x-original-to", "envelope-to", "x-envelope-to")
PERMANENT = re.compile(r"^\s*5\.\d{1,3}\.\d{1,3}")


@dataclass(frozen=True)
class Feedback:
    kind: Literal["bounce", "complaint"]
    delivery_id: UUID
    # Why: a bounce's status and diagnostic, or a complaint's feedback type.
    reason: str


def verp_address(bounce_address: str, delivery_id: UUID) -> str:
    """``bounces@example.org`` -> ``bounces+<delivery id>@example.org``."""
    local_part, _, domain = bounce_address.rpartition("@")
    return f"{local_part}+{delivery_id}@{domain}"


def read_feedback(raw: bytes, *, bounce_address: str, message_domain: str) -> Feedback | None:
    """The bounce or complaint in ``raw`` (one whole message), or ``None`` when it is neither,
    or names none of our deliveries: their envelope sender is ``bounce_address`` with the
    delivery id, their Message-ID ``<delivery id@message_domain>``."""
    report = email.message_from_bytes(raw, policy=email.policy.compat32)
    report_type = report.get_param("report-type", header="content-type")
    if report.get_content_type() != "multipart/report" or not isinstance(report_type, str):
        return None
    parts = list(report.walk())
    if report_type.lower() == "delivery-status":
        reason = _permanent_failure(parts)
        kind: Literal["bounce", "complaint"] = "bounce"
    elif report_type.lower() == "feedback-report":
        reason = _complaint(parts)
        kind = "complaint"
    else:
        return None
    if reason is None:
        return None
    delivery_id = _delivery_of(report, parts, bounce_address, message_domain)
    return Feedback(kind, delivery_id, reason) if delivery_id is not None else None


def _blocks(parts: list[Message], content_type: str) -> Iterator[Message]:
    """The header blocks of the report's ``message/*`` parts of this type."""
    for part in parts:
        if part.get_content_type() == content_type:
            yield from _messages_in(part)


def _messages_in(part: Message) -> list[Message]:
    payload = part.get_payload()
    return (
        [item for item in payload if isinstance(item, Message)] if isinstance(payload, list) else []
    )


def _permanent_failure(parts: list[Message]) -> str | None:
    """``<status> <diagnostic>`` of the first recipient that failed for good, if any."""
    for block in _blocks(parts, "message/delivery-status"):
        action, status = (block.get("action", "") or ""), (block.get("status", "") or "")
        if action.strip().lower() == "failed" and PERMANENT.match(status):
            diagnostic = " ".join(str(block.get("diagnostic-code", "")).split())
            return f"{status.strip()} {diagnostic}".strip()[:500]
    return None


def _complaint(parts: list[Message]) -> str | None:
    for block in _blocks(parts, "message/feedback-report"):
        feedback_type = block.get("feedback-type")
        if feedback_type:
            return f"feedback-type {str(feedback_type).strip().lower()}"[:500]
    return None


def _delivery_of(
    report: Message, parts: list[Message], bounce_address: str, message_domain: str
) -> UUID | None:
    local_part, _, domain = bounce_address.rpartition("@")
    verp = re.compile(
        rf"{re.escape(local_part)}\+({UUID_PATTERN})@{re.escape(domain)}", re.IGNORECASE
    )
    message_id = re.compile(rf"<({UUID_PATTERN})@{re.escape(message_domain)}>", re.IGNORECASE)
    candidates = [str(report.get(name, "")) for name in RECEIVED_AT]
    candidates += [
        str(block.get("original-mail-from", ""))
        for block in _blocks(parts, "message/feedback-report")
    ]
    for text in candidates:
        if match := verp.search(text):
            return UUID(match.group(1))
    for original in _originals(parts):
        if match := message_id.search(str(original.get("message-id", ""))):
            return UUID(match.group(1))
    return None


def _originals(parts: list[Message]) -> Iterator[Message]:
    """The headers of the returned original message: a ``message/rfc822`` part or a
    ``text/rfc822-headers`` one."""
    for part in parts:
        if part.get_content_type() == "message/rfc822":
            yield from _messages_in(part)
        elif part.get_content_type() == "text/rfc822-headers":
            text = part.get_payload(decode=True)
            if isinstance(text, bytes):
                yield email.message_from_bytes(text, policy=email.policy.compat32)
