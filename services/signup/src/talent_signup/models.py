"""The signup service's HTTP request and response bodies."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
)

from talent_shared.events import AlertFrequency

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Term = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
VisitorId = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:\-]+$")
]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9 ()\-.]{7,25}$")]


def normalise_email(value: str) -> str:
    """RFC-valid address, trimmed, with its domain lower-cased (the local part is kept)."""
    try:
        address = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as error:
        raise ValueError(str(error)) from error
    return f"{address.local_part}@{address.domain.lower()}"


def _distinct(terms: list[str]) -> list[str]:
    """Drop repeats that differ only in case, keeping the first spelling."""
    kept: dict[str, str] = {}
    for term in terms:
        kept.setdefault(term.casefold(), term)
    return list(kept.values())


Email = Annotated[str, StringConstraints(max_length=254), AfterValidator(normalise_email)]
Terms = Annotated[list[Term], Field(max_length=20), AfterValidator(_distinct)]


class Preferences(BaseModel):
    model_config = ConfigDict(extra="forbid")

    interests: Terms = Field(default_factory=list, description="job categories; empty = any")
    locations: Terms = Field(default_factory=list, description="places; empty = any")
    keywords: Terms = Field(default_factory=list, description="words in title or description")
    alert_frequency: AlertFrequency = "instant"


class SignupRequest(Preferences):
    email: Email
    first_name: Name
    last_name: Name
    consent: Literal[True] = Field(description="must be true: the visitor agreed to be contacted")
    visitor_id: VisitorId | None = None
    phone: Phone | None = None


class SignupResponse(BaseModel):
    candidate_id: UUID
    status: Literal["subscribed"] = "subscribed"


class Consent(BaseModel):
    given_at: datetime
    text_version: str
    source: Literal["form", "import"]
    visitor_id: str | None


class Candidate(BaseModel):
    candidate_id: UUID
    email: str
    first_name: str
    last_name: str
    phone: str | None
    status: Literal["subscribed", "unsubscribed"]
    preferences: Preferences
    visitor_id: str | None
    created_at: datetime
    updated_at: datetime
    unsubscribed_at: datetime | None
    consents: list[Consent]


class UnsubscribeResult(BaseModel):
    candidate_id: UUID
    status: Literal["unsubscribed"] = "unsubscribed"
