"""The jobs service's HTTP request and response bodies."""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

VisitorId = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:\-]+$")
]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
MAX_CLOCK_SKEW = timedelta(minutes=5)


class JobCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: ShortText
    category: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    location: ShortText
    description: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)
    ]
    employment_type: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)] | None
    ) = None
    featured: bool = False
    requisition_id: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] | None
    ) = None


class Job(BaseModel):
    job_id: UUID
    title: str
    category: str
    location: str
    description: str
    employment_type: str | None
    featured: bool
    requisition_id: str | None
    status: Literal["open", "closed"]
    posted_at: datetime
    updated_at: datetime
    closed_at: datetime | None


class JobViewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    visitor_id: VisitorId
    job_id: UUID
    viewed_at: datetime | None = Field(
        default=None, description="When the job was viewed; now when omitted. Naive times are UTC."
    )

    @field_validator("viewed_at")
    @classmethod
    def _not_in_the_future(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        if value > datetime.now(UTC) + MAX_CLOCK_SKEW:
            raise ValueError("viewed_at lies in the future")
        return value


class JobViewAccepted(BaseModel):
    status: Literal["accepted"] = "accepted"
    event_id: UUID


class RecentlyViewedJob(BaseModel):
    job_id: UUID
    title: str
    location: str
    category: str
    viewed_at: datetime


class RecentlyViewed(BaseModel):
    visitor_id: str
    items: list[RecentlyViewedJob]
