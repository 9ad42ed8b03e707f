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
    field_validator,
)

from talent_shared.events import AlertFrequency
from talent_shared.text import NoLink, OneLine, text

Name = Annotated[str, text(100), OneLine, NoLink]
Term = Annotated[str, text(100), OneLine]
VisitorId = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:\-]+$")
]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9 ()\-.]{7,25}$")]


def normalise_email(value: str) -> str:
    """RFC-valid address, trimmed, with its domain lower-cased (the local part is kept).

    An internationalised domain is kept in its ASCII form, which every mail server delivers to;
    a non-ASCII local part (SMTPUTF8) is refused, since not every server on the way accepts it.
    """
    try:
        address = validate_email(value.strip(), check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as error:
        raise ValueError(str(error)) from error
    return f"{address.local_part}@{address.ascii_domain.lower()}"


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

    @field_validator("consent", mode="before")
    @classmethod
    def _consent_is_literally_true(cls, value: object) -> object:
        if value is not True:  # not 1, "true" or 1.0: consent must be given explicitly
            raise ValueError("consent must be true")
        return value

    visitor_id: VisitorId | None = None
    phone: Phone | None = None


class SignupResponse(BaseModel):
    candidate_id: UUID
    status: Literal["subscribed", "pending"] = Field(
        default="subscribed",
        description="pending: a confirmation email was sent (SIGNUP_DOUBLE_OPT_IN)",
    )


class Consent(BaseModel):
    given_at: datetime
    text_version: str
    source: Literal["form", "import"]
    visitor_id: str | None
    confirmed_at: datetime | None = Field(description="when the confirmation link was used")


class Candidate(BaseModel):
    candidate_id: UUID
    email: str
    first_name: str
    last_name: str
    phone: str | None
    status: Literal["pending", "subscribed", "unsubscribed"]
    preferences: Preferences
    visitor_id: str | None
    created_at: datetime
    updated_at: datetime
    unsubscribed_at: datetime | None
    consents: list[Consent]


class PreferenceCenter(BaseModel):
    """What the preference center shows to the holder of a manage token."""

    candidate_id: UUID
    email: str = Field(description="masked: the first character and the domain, j***@example.org")
    first_name: str
    interests: list[str]
    locations: list[str]
    keywords: list[str]
    alert_frequency: AlertFrequency
    subscribed: bool


class Change(BaseModel):
    """One field a repeat sign-up asks to change (``status``: becoming subscribed)."""

    field: str
    current: str | list[str] | None
    requested: str | list[str] | None


class ConfirmationResult(BaseModel):
    candidate_id: UUID
    status: Literal["subscribed", "unsubscribed"]


class UnsubscribeResult(BaseModel):
    candidate_id: UUID
    status: Literal["unsubscribed"] = "unsubscribed"
