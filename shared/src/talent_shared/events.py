"""The contract's events: topics, and the ``data`` of every event type (what each one means).

How they travel (the envelope, records, parsing) is :mod:`talent_shared.envelope`.
"""

from typing import ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

CANDIDATES_TOPIC = "talent.candidates.v1"
POSTINGS_TOPIC = "jobs.postings.v1"
VIEWS_TOPIC = "jobs.views.v1"
FEEDBACK_TOPIC = "notifications.feedback.v1"  # additive: what recipients said of our emails
TOPICS = (CANDIDATES_TOPIC, POSTINGS_TOPIC, VIEWS_TOPIC, FEEDBACK_TOPIC)
EVENT_TYPE_HEADER = "event_type"

AlertFrequency = Literal["instant", "daily", "weekly", "never"]


def dead_letter_topic(topic: str) -> str:
    return f"{topic}.dlq"


class EventData(BaseModel):
    """The ``data`` of one event type; subclasses name their type, their topic, and the field
    whose value is the Kafka message key (one entity's events share a partition, in order)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_type: ClassVar[str]
    topic: ClassVar[str]
    key_field: ClassVar[str]

    @property
    def key(self) -> str:
        return str(getattr(self, self.key_field))


class CandidateEvent(EventData):
    topic: ClassVar[str] = CANDIDATES_TOPIC
    key_field: ClassVar[str] = "candidate_id"
    candidate_id: UUID


class CandidatePreferences(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    interests: list[str] = Field(default_factory=list)
    locations: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    alert_frequency: AlertFrequency = "instant"


class CandidateSignedUp(CandidateEvent, CandidatePreferences):
    event_type: ClassVar[str] = "CandidateSignedUp"
    email: str
    first_name: str
    last_name: str
    visitor_id: str | None = None
    signed_up_at: AwareDatetime


class CandidatePreferencesChanged(CandidateEvent, CandidatePreferences):
    """New preferences; ``subscribed`` is true again when an unsubscribed candidate re-signs up."""

    event_type: ClassVar[str] = "CandidatePreferencesChanged"
    subscribed: bool = True


class CandidateUnsubscribed(CandidateEvent):
    event_type: ClassVar[str] = "CandidateUnsubscribed"
    unsubscribed_at: AwareDatetime


class CandidateConfirmationRequested(CandidateEvent):
    """A double opt-in sign-up waits for confirmation: send it the confirmation email. It is not
    a sign-up yet (``CandidateSignedUp`` follows the confirmation); the link's token is made by
    the sender, never carried here."""

    event_type: ClassVar[str] = "CandidateConfirmationRequested"
    email: str
    first_name: str
    requested_at: AwareDatetime


class CandidateChangeRequested(CandidateEvent):
    """Someone signed up again with this candidate's address and asked for changes. Nothing has
    changed: send the "confirm these changes" email, whose link (made by the sender) is bound to
    ``change_id``."""

    event_type: ClassVar[str] = "CandidateChangeRequested"
    change_id: UUID
    email: str
    requested_at: AwareDatetime


class CandidateSignupRepeated(CandidateEvent):
    """Someone signed up again with this candidate's address and nothing would change: send the
    "you are already a member" email with the manage link."""

    event_type: ClassVar[str] = "CandidateSignupRepeated"
    email: str
    repeated_at: AwareDatetime


class CandidateChangesConfirmed(CandidateEvent, CandidatePreferences):
    """Changes confirmed from the changes email: the candidate's name and preferences as they now
    are, subscribed (again). Following the link also proved they read mail at ``email``."""

    event_type: ClassVar[str] = "CandidateChangesConfirmed"
    email: str
    first_name: str
    confirmed_at: AwareDatetime


class CandidateErased(CandidateEvent):
    """``visitor_ids``: the browser ids the candidate gave, so the jobs service can erase their
    recently-viewed history too."""

    event_type: ClassVar[str] = "CandidateErased"
    erased_at: AwareDatetime
    visitor_ids: list[str] = Field(default_factory=list)


class JobEvent(EventData):
    topic: ClassVar[str] = POSTINGS_TOPIC
    key_field: ClassVar[str] = "job_id"
    job_id: UUID


class JobSnapshot(JobEvent):
    """The whole job as it stands after the change, so consumers can keep a replica by upsert."""

    title: str
    category: str
    location: str
    description: str
    employment_type: str | None = None
    featured: bool = False
    requisition_id: str | None = None
    status: Literal["open", "closed"] = "open"
    posted_at: AwareDatetime
    updated_at: AwareDatetime


class JobPosted(JobSnapshot):
    event_type: ClassVar[str] = "JobPosted"


class JobUpdated(JobSnapshot):
    event_type: ClassVar[str] = "JobUpdated"


class JobClosed(JobEvent):
    event_type: ClassVar[str] = "JobClosed"
    closed_at: AwareDatetime


class JobViewed(EventData):
    event_type: ClassVar[str] = "JobViewed"
    topic: ClassVar[str] = VIEWS_TOPIC
    key_field: ClassVar[str] = "visitor_id"
    visitor_id: str
    job_id: UUID
    viewed_at: AwareDatetime


class ComplaintReceived(EventData):
    """A recipient reported one of our emails as spam (an RFC 5965 feedback report): the
    address is suppressed already, and the candidate must be unsubscribed (signup owns that)."""

    event_type: ClassVar[str] = "ComplaintReceived"
    topic: ClassVar[str] = FEEDBACK_TOPIC
    key_field: ClassVar[str] = "candidate_id"
    candidate_id: UUID
    received_at: AwareDatetime


EVENT_TYPES: dict[str, type[EventData]] = {
    cls.event_type: cls
    for cls in (
        CandidateSignedUp,
        CandidatePreferencesChanged,
        CandidateUnsubscribed,
        CandidateConfirmationRequested,
        CandidateChangeRequested,
        CandidateSignupRepeated,
        CandidateChangesConfirmed,
        CandidateErased,
        JobPosted,
        JobUpdated,
        JobClosed,
        JobViewed,
        ComplaintReceived,
    )
}
