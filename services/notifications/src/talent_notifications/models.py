"""The notifications service's HTTP response bodies."""

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel


class Delivery(BaseModel):
    delivery_id: UUID
    kind: Literal["welcome", "job_alert", "digest", "confirmation"]
    to: str | None
    subject: str | None
    status: Literal["pending", "sent", "failed"]
    attempts: int
    job_ids: list[UUID]
    created_at: datetime
    sent_at: datetime | None


class Deliveries(BaseModel):
    items: list[Delivery]
