"""The small HTML pages behind emailed links: unsubscribe, sign-up confirmation and the changes
of a repeat sign-up (Jinja2, autoescaped). Each shows a button that POSTs, so opening the link
changes nothing and a link scanner never acts for anyone."""

from collections.abc import Sequence
from dataclasses import dataclass

from jinja2 import Environment, PackageLoader, select_autoescape

from talent_signup.models import Change

_templates = Environment(
    loader=PackageLoader("talent_signup", "templates"), autoescape=select_autoescape()
)


@dataclass(frozen=True)
class LinkPage:
    template: str
    heading: str
    message: str
    invalid_message: str  # when the link's token is forged, altered or expired
    done_heading: str  # after the button was pressed
    done_message: str

    def render(self, *, form_action: str | None, changes: Sequence[Change] = ()) -> str:
        """The page with its button posting to ``form_action``; the "not valid" page without."""
        valid = form_action is not None
        return _templates.get_template(self.template).render(
            heading=self.heading if valid else "This link is not valid",
            message=self.message if valid else self.invalid_message,
            form_action=form_action,
            changes=[_shown(change) for change in changes],
        )

    def render_done(self) -> str:
        return _templates.get_template(self.template).render(
            heading=self.done_heading, message=self.done_message, form_action=None
        )


UNSUBSCRIBE_PAGE = LinkPage(
    template="unsubscribe_confirm.html",
    heading="Unsubscribe from Talent Network emails?",
    message="You will get no more job alerts or digests. You can sign up again at any time.",
    invalid_message="The unsubscribe link is incomplete or has expired. "
    "Use the link in a recent Talent Network email.",
    done_heading="You are unsubscribed",
    done_message="You will get no more Talent Network job alerts or digests.",
)

CONFIRMATION_PAGE = LinkPage(
    template="signup_confirm.html",
    heading="Confirm your Talent Network sign-up",
    message="Confirm that you want job alerts and Talent Network emails at this address.",
    invalid_message="The confirmation link is incomplete or has expired. "
    "Sign up again to get a new one.",
    done_heading="You are signed up",
    done_message="Welcome to the Talent Network: your welcome email is on its way.",
)

CHANGES_PAGE = LinkPage(
    template="changes_confirm.html",
    heading="Confirm the changes to your Talent Network membership",
    message="Someone, maybe you, signed up again with this address and asked for these changes. "
    "Nothing has changed yet. If it was not you, close this page: nothing will change.",
    invalid_message="The link is incomplete or has expired. Sign up again to get a new one.",
    done_heading="Your changes are saved",
    done_message="Your Talent Network membership and job alerts are up to date.",
)

FIELD_LABELS = {
    "first_name": "First name",
    "last_name": "Last name",
    "phone": "Phone",
    "interests": "Job areas",
    "locations": "Locations",
    "keywords": "Keywords",
    "alert_frequency": "Job alerts",
    "status": "Membership",
}


@dataclass(frozen=True)
class _ShownChange:
    label: str
    current: str
    requested: str


def _shown(change: Change) -> _ShownChange:
    return _ShownChange(
        FIELD_LABELS[change.field], _value(change.current), _value(change.requested)
    )


# Values the service writes (statuses, frequencies), shown capitalised; anything else as typed.
STATES = {"pending", "subscribed", "unsubscribed", "instant", "daily", "weekly", "never"}


def _value(value: str | list[str] | None) -> str:
    if isinstance(value, list):
        return ", ".join(value) or "any"
    if value is None:
        return "none"
    return value.capitalize() if value in STATES else value
