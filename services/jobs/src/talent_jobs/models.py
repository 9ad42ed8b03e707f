"""The jobs service's HTTP request and response bodies."""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from talent_shared.text import MultiLine, OneLine, text

VisitorId = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:\-]+$")
]
ShortText = Annotated[str, text(200), OneLine]
MAX_CLOCK_SKEW = timedelta(minutes=5)
EARLIEST_VIEW = datetime(2000, 1, 1, tzinfo=UTC)


Category = Annotated[str, text(100), OneLine]
Description = Annotated[str, text(20_000), MultiLine]
EmploymentType = Annotated[str, text(50), OneLine]
RequisitionId = Annotated[str, text(64), OneLine]


class JobFields(BaseModel):
    """A whole job, as an admin or an ATS feed gives it."""

    model_config = ConfigDict(extra="forbid")

    title: ShortText = Field(description="one line, up to 200 characters")
    category: Category = Field(description="the job area alerts and search match, e.g. Nursing")
    location: ShortText = Field(description="where the job is, as visitors search it")
    description: Description = Field(description="plain text; line breaks are kept")
    employment_type: EmploymentType | None = Field(default=None, description="e.g. Full-time")
    featured: bool = Field(default=False, description="shown among the Featured Jobs")


class JobCreate(JobFields):
    requisition_id: RequisitionId | None = None


class FeedJob(JobFields):
    """A job of an ATS feed: the requisition id is what it is known by."""

    requisition_id: RequisitionId


MAX_FEED_JOBS = 5000
MAX_FEED_BODY_BYTES = 32 * 1024 * 1024  # 5,000 jobs of long descriptions


class JobFeed(BaseModel):
    model_config = ConfigDict(extra="forbid")

    jobs: list[FeedJob] = Field(
        max_length=MAX_FEED_JOBS,
        description="The whole feed: every open job with its requisition id. Open jobs with a "
        "requisition id that are missing from it are closed.",
    )

    def repeated_requisitions(self) -> list[dict[str, Any]]:
        """A validation error for each job whose requisition id an earlier one has."""
        first: dict[str, int] = {}
        errors = []
        for index, job in enumerate(self.jobs):
            earlier = first.setdefault(job.requisition_id, index)
            if earlier != index:
                errors.append(
                    {
                        "loc": ("body", "jobs", index, "requisition_id"),
                        "msg": f"the requisition id of job {earlier} too: one job each",
                        "type": "value_error",
                    }
                )
        return errors


class FeedSynced(BaseModel):
    created: int
    updated: int = Field(description="changed, or reopened")
    closed: int = Field(description="open with a requisition id, and missing from the feed")
    unchanged: int


class JobUpdate(BaseModel):
    """A partial update: only the fields sent change; optional fields may be set to null."""

    model_config = ConfigDict(extra="forbid")

    title: ShortText | None = None
    category: Category | None = None
    location: ShortText | None = None
    description: Description | None = None
    employment_type: EmploymentType | None = None
    featured: bool | None = None
    requisition_id: RequisitionId | None = None

    @field_validator("title", "category", "location", "description", "featured")
    @classmethod
    def _required_fields_are_not_null(cls, value: object) -> object:
        # Runs only for values sent (defaults are not validated): null would erase the field.
        if value is None:
            raise ValueError("cannot be null")
        return value

    @model_validator(mode="after")
    def _changes_something(self) -> "JobUpdate":
        if not self.model_fields_set:
            raise ValueError("send at least one field to change")
        return self

    def changes(self) -> dict[str, object]:
        return self.model_dump(include=self.model_fields_set)


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


class JobPage(BaseModel):
    items: list[Job]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


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
        try:
            value = value.astimezone(UTC)
        except OverflowError as error:
            raise ValueError("viewed_at is out of range") from error
        if value < EARLIEST_VIEW:
            raise ValueError("viewed_at is too far in the past")
        if value > datetime.now(UTC) + MAX_CLOCK_SKEW:
            raise ValueError("viewed_at lies in the future")
        return value


class JobViewAccepted(BaseModel):
    status: Literal["accepted"] = "accepted"
    event_id: UUID


MAX_BATCH_EVENTS = 500
MAX_BATCH_BODY_BYTES = 256 * 1024


class JobViewBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Each event is checked on its own (as a JobViewIn), so one bad event rejects only itself.
    events: list[Any] = Field(
        min_length=1,
        max_length=MAX_BATCH_EVENTS,
        description="Job views, each like the body of `POST /v1/job-views`.",
        json_schema_extra={"items": {"$ref": "#/components/schemas/JobViewIn"}},
    )


class ValidJobViewBatch(BaseModel):
    """A batch whose every event is valid, the usual case: checked in one call instead of event
    by event. A batch that is not one is checked as a :class:`JobViewBatchIn`."""

    model_config = ConfigDict(extra="forbid")

    events: list[JobViewIn] = Field(min_length=1, max_length=MAX_BATCH_EVENTS)


class RejectedJobView(BaseModel):
    index: int = Field(description="Position of the event in `events`, from 0.")
    detail: str = Field(description="Why it was rejected.")


class JobViewBatchAccepted(BaseModel):
    accepted: int = Field(description="Events now durably in Kafka.")
    rejected: list[RejectedJobView] = Field(description="Events left out, in order.")


class RecentlyViewedJob(BaseModel):
    job_id: UUID
    title: str
    location: str
    category: str
    viewed_at: datetime


class RecentlyViewed(BaseModel):
    visitor_id: str
    items: list[RecentlyViewedJob]


class Facet(BaseModel):
    name: str = Field(description="As most open jobs spell it; filters match any case.")
    count: int = Field(description="Open jobs with this value.")


class JobFacets(BaseModel):
    """The choices the catalogue offers a search or a sign-up form: most open jobs first."""

    categories: list[Facet]
    locations: list[Facet]
