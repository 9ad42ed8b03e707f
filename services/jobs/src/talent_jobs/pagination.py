"""Opaque keyset cursors: the position of a page's last job, base64url-encoded JSON."""

import base64
import binascii
import json
from datetime import UTC, datetime
from uuid import UUID

from talent_jobs.repository import Position


class InvalidCursorError(ValueError):
    pass


def encode_cursor(position: Position) -> str:
    raw = json.dumps({"p": position.posted_at.isoformat(), "j": str(position.job_id)})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Position:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        fields = json.loads(raw)
        if not isinstance(fields, dict) or not all(isinstance(fields.get(k), str) for k in "pj"):
            raise TypeError("cursor fields are not strings")
        posted_at = datetime.fromisoformat(fields["p"])
        if posted_at.tzinfo is None:
            raise ValueError("naive time")
        return Position(posted_at=posted_at.astimezone(UTC), job_id=UUID(fields["j"]))
    except (binascii.Error, ValueError, KeyError, TypeError, OverflowError) as error:
        raise InvalidCursorError("cursor is not one this API returned") from error
