"""The bounce and complaint reports of ``reports/``, filled in for one of our deliveries."""

import uuid
from pathlib import Path

from talent_notifications.feedback import verp_address

REPORTS = Path(__file__).parent / "reports"
BOUNCE_ADDRESS = "bounces@careers.example.org"
DOMAIN = "careers.example.org"


def report(name: str, delivery_id: uuid.UUID, recipient: str) -> bytes:
    """The report ``name`` about our email ``delivery_id`` to ``recipient``."""
    text = (REPORTS / name).read_bytes()
    for placeholder, value in (
        (b"__VERP__", verp_address(BOUNCE_ADDRESS, delivery_id)),
        (b"__RECIPIENT__", recipient),
        (b"__MESSAGE_ID__", f"<{delivery_id}@{DOMAIN}>"),
    ):
        text = text.replace(placeholder, value.encode())
    return text
