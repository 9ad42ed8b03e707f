"""The notifications service's HTTP response bodies."""

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field


class Delivery(BaseModel):
    delivery_id: UUID
    kind: Literal[
        "welcome", "job_alert", "digest", "confirmation", "change_confirmation", "already_member"
    ]
    to: str | None
    subject: str | None
    status: Literal["pending", "sent", "failed", "suppressed"] = Field(
        description="suppressed: not sent, the address bounced or complained"
    )
    attempts: int
    job_ids: list[UUID]
    created_at: datetime
    sent_at: datetime | None


class Deliveries(BaseModel):
    items: list[Delivery]


class FeedbackApplied(BaseModel):
    kind: Literal["bounce", "complaint", "ignored"] = Field(
        description="ignored: not a permanent failure nor a complaint, or about no delivery of ours"
    )
    delivery_id: UUID | None = Field(description="the delivery the report is about")
    suppressed: bool = Field(description="the delivery's address is suppressed now")
