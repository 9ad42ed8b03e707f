"""The emails: Jinja2 templates (text and HTML), links from PUBLIC_BASE_URL, and the MIME message
with the headers mail clients and providers expect (Message-ID, List-Unsubscribe, RFC 8058).

Every link is built here, as PUBLIC_BASE_URL + a path the public origin serves: /jobs,
/jobs/{job_id}, /preferences?token= (the manage token), /v1/unsubscribe?token= and
/v1/signups/confirm?token= (double opt-in).
"""

import re
from dataclasses import dataclass
from email.headerregistry import Address
from email.utils import formatdate, getaddresses
from urllib.parse import quote, urlencode
from uuid import UUID

import asyncpg
from jinja2 import Environment, PackageLoader, select_autoescape

from talent_notifications.feedback import verp_address
from talent_notifications.headers import EMAIL_POLICY
from talent_notifications.mime import multipart_alternative
from talent_notifications.settings import NotificationsSettings
from talent_notifications.signing import DkimSigner
from talent_shared.text import without_controls
from talent_shared.tokens import TokenPurpose, make_token

ONE_CLICK = "List-Unsubscribe=One-Click"
CONFIRMATION = "confirmation"  # the delivery kind of the double opt-in email
CHANGE_CONFIRMATION = "change_confirmation"  # a repeat sign-up's "confirm these changes"
ALREADY_MEMBER = "already_member"  # a repeat sign-up that would change nothing
# Not list mail: sent to someone who is not (yet) a member, or about the membership itself.
TRANSACTIONAL = frozenset({CONFIRMATION, CHANGE_CONFIRMATION, ALREADY_MEMBER})

# Links sit in <...> in List-Unsubscribe and are folded around, so no space nor angle bracket.
LINK_BASE = re.compile(r"https?://[^\s<>]+")


@dataclass(frozen=True)
class JobLine:
    title: str
    url: str
    reason: str


@dataclass(frozen=True)
class OutgoingEmail:
    """A message ready for SMTP: its envelope and its bytes (7-bit, CRLF lines)."""

    sender: str
    recipient: str
    data: bytes


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def match_reason(job: asyncpg.Record) -> str:
    """Why a job matched, e.g. "Nursing · Durham, NC · keyword: ICU"."""
    parts = [job["category"], job["location"]]
    if job["keyword"]:
        parts.append(f"keyword: {job['keyword']}")
    return " · ".join(parts)


class Emails:
    def __init__(self, settings: NotificationsSettings) -> None:
        self._settings = settings
        self._base = settings.public_base_url.rstrip("/")
        self._secret = settings.token_secret.get_secret_value()
        self._templates = Environment(
            loader=PackageLoader("talent_notifications", "templates"),
            autoescape=select_autoescape(enabled_extensions=("html",), default=False),
            keep_trailing_newline=True,
            # Package data, never edited while running: no file check on every render.
            auto_reload=False,
        )
        sender = getaddresses([settings.mail_from])[0][1]
        self.domain = sender.rsplit("@", 1)[-1] if "@" in sender else "localhost"
        self.unsubscribe_mailbox = settings.unsubscribe_mailto or f"unsubscribe@{self.domain}"
        self._check_list_unsubscribe_fits()
        # Written once: parsing From costs more than sending it.
        self._sender = sender
        self._bounce_address = settings.bounce_address
        self._signer = DkimSigner.from_settings(settings)
        self._from_line = _folded("From", settings.mail_from)
        self._one_click_line = _folded("List-Unsubscribe-Post", ONE_CLICK)

    def _check_list_unsubscribe_fits(self) -> None:
        """Refuse to start, rather than fail every send, when PUBLIC_BASE_URL or
        UNSUBSCRIBE_MAILTO cannot make a valid List-Unsubscribe header."""
        if not (self._base.isascii() and LINK_BASE.fullmatch(self._base)):
            raise ValueError("PUBLIC_BASE_URL must be an http(s) URL of printable ASCII")
        try:
            _folded("List-Unsubscribe", self.list_unsubscribe(UUID(int=0)))
        except ValueError as error:
            raise ValueError(
                f"PUBLIC_BASE_URL or UNSUBSCRIBE_MAILTO cannot make a List-Unsubscribe: {error}"
            ) from error

    # --- links ---------------------------------------------------------------------------------

    def jobs_url(self) -> str:
        return f"{self._base}/jobs"

    def job_url(self, job_id: UUID) -> str:
        return f"{self._base}/jobs/{job_id}"

    def unsubscribe_url(self, candidate_id: UUID) -> str:
        return self._unsubscribe_url(self._unsubscribe_token(candidate_id))

    def _unsubscribe_token(self, candidate_id: UUID) -> str:
        return make_token(self._secret, TokenPurpose.UNSUBSCRIBE, candidate_id)

    def _unsubscribe_url(self, token: str) -> str:
        return f"{self._base}/v1/unsubscribe?{urlencode({'token': token})}"

    def manage_url(self, candidate_id: UUID) -> str:
        token = make_token(self._secret, TokenPurpose.MANAGE, candidate_id)
        return f"{self._base}/preferences?{urlencode({'token': token})}"

    def confirm_url(self, candidate_id: UUID) -> str:
        token = make_token(self._secret, TokenPurpose.CONFIRM, candidate_id)
        return f"{self._base}/v1/signups/confirm?{urlencode({'token': token})}"

    def change_url(self, change_id: UUID) -> str:
        """The changes email's link: bound to the change request, not to the candidate."""
        token = make_token(self._secret, TokenPurpose.CHANGE, change_id)
        return f"{self._base}/v1/signups/confirm?{urlencode({'token': token})}"

    def unsubscribe_mailto(self, candidate_id: UUID) -> str:
        return self._unsubscribe_mailto(self._unsubscribe_token(candidate_id))

    def _unsubscribe_mailto(self, token: str) -> str:
        return f"mailto:{self.unsubscribe_mailbox}?subject={quote('unsubscribe ' + token)}"

    def list_unsubscribe(self, candidate_id: UUID) -> str:
        """RFC 2369: the one-click https link first (RFC 8058), then the mailto; both carry the
        same token (signing one costs about as much as the rest of the header)."""
        token = self._unsubscribe_token(candidate_id)
        return f"<{self._unsubscribe_url(token)}>, <{self._unsubscribe_mailto(token)}>"

    # --- content -------------------------------------------------------------------------------

    def _render(self, name: str, subject: str, **context: object) -> RenderedEmail:
        # A job's title from before text hygiene may hold a line break: never in a header.
        subject = without_controls(subject)
        context = {"subject": subject, **context}
        return RenderedEmail(
            subject=subject,
            text=self._templates.get_template(f"{name}.txt").render(context),
            html=self._templates.get_template(f"{name}.html").render(context),
        )

    def welcome(self, *, candidate_id: UUID, first_name: str, frequency: str) -> RenderedEmail:
        return self._render(
            "welcome",
            "Welcome to our Talent Network",  # no text a visitor typed in a Subject
            first_name=first_name,
            frequency=frequency,
            jobs_url=self.jobs_url(),
            manage_url=self.manage_url(candidate_id),
            unsubscribe_url=self.unsubscribe_url(candidate_id),
        )

    def confirmation(self, *, candidate_id: UUID, first_name: str) -> RenderedEmail:
        """Double opt-in: the one link that makes a pending sign-up a member."""
        return self._render(
            "confirmation",
            "Confirm your Talent Network sign-up",
            first_name=first_name,
            confirm_url=self.confirm_url(candidate_id),
        )

    def change_confirmation(self, *, change_id: UUID) -> RenderedEmail:
        """A repeat sign-up asked for changes: the one link that applies them. The email holds
        nothing the visitor typed: the changes show behind the link."""
        return self._render(
            "change_confirmation",
            "Confirm the changes to your Talent Network membership",
            change_url=self.change_url(change_id),
        )

    def already_member(self, *, candidate_id: UUID) -> RenderedEmail:
        """A repeat sign-up that would change nothing: the manage link, nothing else."""
        return self._render(
            "already_member",
            "You are already a member of our Talent Network",
            manage_url=self.manage_url(candidate_id),
        )

    def job_list(
        self,
        *,
        candidate_id: UUID,
        first_name: str,
        jobs: list[asyncpg.Record],
        digest_period: str | None = None,
        more: int = 0,
    ) -> RenderedEmail:
        """A job alert, or a digest when ``digest_period`` ("daily", "weekly") is given. ``more``
        matching jobs follow in the next alert: the email says so and links the search page."""
        lines = [
            JobLine(title=job["title"], url=self.job_url(job["job_id"]), reason=match_reason(job))
            for job in jobs
        ]
        count = f"{len(lines)} new job{'s' if len(lines) != 1 else ''}"
        if digest_period:
            subject = f"Your {digest_period} job digest: {count} for you"
            intro = f"here are the {count} that matched your preferences since your last digest."
        elif len(lines) == 1:
            subject = f"New job for you: {lines[0].title}"
            intro = "a new job matches your preferences."
        else:
            subject = f"{count} match your preferences"
            intro = f"{count} match your preferences."
        return self._render(
            "jobs",
            subject,
            heading=subject,
            intro=intro,
            first_name=first_name,
            jobs=lines,
            more=more,
            jobs_url=self.jobs_url(),
            manage_url=self.manage_url(candidate_id),
            unsubscribe_url=self.unsubscribe_url(candidate_id),
        )

    # --- the message ---------------------------------------------------------------------------

    def message(self, delivery: asyncpg.Record) -> OutgoingEmail:
        candidate_id: UUID = delivery["candidate_id"]
        to_address: str = delivery["to_address"]
        headers = [
            self._from_line,
            _folded("To", Address(addr_spec=to_address)),
            _folded("Subject", delivery["subject"]),
            f"Date: {formatdate(usegmt=True)}\r\n",
            # Derived from the delivery id: a resend after a crash carries the same Message-ID.
            f"Message-ID: <{delivery['delivery_id']}@{self.domain}>\r\n",
        ]
        # Every kind that goes to a member of the list, the welcome too. Not the transactional
        # ones: a confirmation goes to someone not a member yet (RFC 2369 headers describe a
        # list), and the emails of a repeat sign-up are about the membership itself.
        if delivery["kind"] not in TRANSACTIONAL:
            headers.append(_folded("List-Unsubscribe", self.list_unsubscribe(candidate_id)))
            headers.append(self._one_click_line)
        data = multipart_alternative(headers, delivery["body_text"], delivery["body_html"])
        if self._signer is not None:
            data = self._signer.sign(data)
        return OutgoingEmail(
            sender=self.envelope_sender(delivery["delivery_id"]), recipient=to_address, data=data
        )

    @property
    def bounce_address(self) -> str:
        """Where bounces come back: BOUNCE_ADDRESS, else the address of MAIL_FROM."""
        return self._bounce_address or self._sender

    def envelope_sender(self, delivery_id: UUID) -> str:
        """Where a bounce goes: ``BOUNCE_ADDRESS`` with the delivery's id (VERP), so that the
        bounce names its delivery; without it, the address of ``MAIL_FROM``."""
        if not self._bounce_address:
            return self._sender
        return verp_address(self._bounce_address, delivery_id)


def _folded(name: str, value: object) -> str:
    """The header as our classes write it, after the checks the policy makes when a header is
    set on a message (no CR or LF in the value)."""
    _, header = EMAIL_POLICY.header_store_parse(name, value)
    return str(header.fold(policy=EMAIL_POLICY))
