"""How the headers of our emails are written on the wire.

The stdlib's refolding (Python 3.11) gets three things wrong that mailbox providers notice: it
RFC 2047-encodes a word longer than a line, so a long List-Unsubscribe link went out as
``=?utf-8?q?=3Chttps...?=``; it writes encoded words of up to 77 octets (RFC 2047 allows 75);
and it drops or adds a space where a fold falls between two encoded words of a Subject or a
display name. So the headers that carry links or human text fold themselves:

- structured headers (List-Unsubscribe, List-Unsubscribe-Post) are printable ASCII, never
  encoded, folded only at their spaces;
- a Subject, or a display name in From/To, is written as it is when it is printable ASCII,
  otherwise as encoded words of at most 75 octets made by ``email.header.Header``, whose splitting
  keeps every character;
- no line is longer than 998 octets (RFC 5322 2.1.1); a header that cannot obey is refused.

The classes live in the policy's header factory: ``Emails.message`` sets each header through
the policy (its checks included) and writes what the class folds (see :mod:`.mime`); a message
serialised by the standard library's generator folds them the same way.
"""

import email.policy
import re
from email.header import Header
from email.headerregistry import (
    BaseHeader,
    HeaderRegistry,
    UniqueAddressHeader,
    UniqueUnstructuredHeader,
)
from email.policy import Policy
from email.utils import formataddr
from typing import Any

MAX_LINE_OCTETS = 998
MAX_ENCODED_WORD_OCTETS = 75
PRINTABLE_WORDS = re.compile(r"[!-~]+(?: [!-~]+)*")
PRINTABLE_TEXT = re.compile(r"[ -~]*")
# A longer word of a Subject is encoded, so that it can be split over lines.
SUBJECT_WORD = re.compile(rf"[!-~]{{1,{MAX_LINE_OCTETS // 2}}}")
# RFC 5322 atext: a word of a display name that needs no quoting.
ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")


class HeaderTooLongError(ValueError):
    """A header has a word that does not fit on a 998-octet line."""


def fold_words(name: str, words: list[str], policy: Policy) -> str:
    """``name: word word ...``, starting a new line before a word that would pass the policy's
    line length; the first word stays beside the name."""
    preferred = policy.max_line_length or MAX_LINE_OCTETS
    lines = [f"{name}:"]
    for index, word in enumerate(words):
        if index and len(lines[-1]) + 1 + len(word) > preferred:
            lines.append("")
        lines[-1] += f" {word}"
    if any(len(line) > MAX_LINE_OCTETS for line in lines):
        raise HeaderTooLongError(f"{name} has a word longer than a {MAX_LINE_OCTETS}-octet line")
    return policy.linesep.join(lines) + policy.linesep


def encoded_words(text: str) -> list[str]:
    """``text`` as RFC 2047 encoded words of at most 75 octets; the space between them carries
    no meaning, so they may be folded anywhere between."""
    encoded = Header(text, "utf-8", maxlinelen=MAX_ENCODED_WORD_OCTETS).encode(linesep="\n")
    return encoded.split()


def needs_encoding(text: str) -> bool:
    """Not printable ASCII, or a reader would take part of it for an encoded word."""
    return not PRINTABLE_TEXT.fullmatch(text) or "=?" in text


def readable_words(text: str, plain: re.Pattern[str]) -> list[str]:
    """The words of ``text``: each ``plain`` one as it is, each run of the others (with the
    spaces inside it) as encoded words. Two encoded words are rarely adjacent, since decoders
    disagree on the space between them in a display name (RFC 2047 says it is dropped)."""
    words: list[str] = []
    run: list[str] = []

    def end_run() -> None:
        words.extend(encoded_words(" ".join(run)) if any(run) else run)
        run.clear()

    for word in text.split(" "):
        if word and "=?" not in word and plain.fullmatch(word):
            end_run()
            words.append(word)
        else:
            run.append(word)
    end_run()
    return words


# The header factory combines a stdlib mixin with BaseHeader, as these classes do; typeshed
# types the mixins apart from BaseHeader, hence the ignores.
class VerbatimHeader(UniqueUnstructuredHeader, BaseHeader):  # type: ignore[misc]
    """List-Unsubscribe (RFC 2369) and List-Unsubscribe-Post (RFC 8058): mailbox providers read
    them raw, so they are printable ASCII words, never encoded, folded only between words."""

    @classmethod
    def parse(cls, value: str, kwds: dict[str, Any]) -> None:
        if not PRINTABLE_WORDS.fullmatch(value):
            raise ValueError("a structured header takes printable ASCII words and single spaces")
        super().parse(value, kwds)

    def fold(self, *, policy: Policy) -> str:
        return fold_words(self.name, str(self).split(" "), policy)


class TextHeader(UniqueUnstructuredHeader, BaseHeader):  # type: ignore[misc]
    """Subject: printable ASCII words as they are, the rest as encoded words."""

    @classmethod
    def parse(cls, value: str, kwds: dict[str, Any]) -> None:
        super().parse(value, kwds)
        # Literal: a job title that looks like an encoded word is not decoded (it is encoded).
        kwds["decoded"] = value

    def fold(self, *, policy: Policy) -> str:
        return fold_words(self.name, readable_words(str(self), SUBJECT_WORD), policy)


class MailboxHeader(UniqueAddressHeader, BaseHeader):  # type: ignore[misc]
    """From and To: each address as ``display name <addr-spec>``, the name encoded when needed;
    the address itself is never encoded."""

    def fold(self, *, policy: Policy) -> str:
        mailboxes = [
            mailbox_words(address.display_name, address.addr_spec) for address in self.addresses
        ]
        for words in mailboxes[:-1]:
            words[-1] += ","
        return fold_words(self.name, [word for words in mailboxes for word in words], policy)


def mailbox_words(display_name: str, addr_spec: str) -> list[str]:
    if not display_name:
        return [addr_spec]
    if needs_encoding(display_name):
        return [*readable_words(display_name, ATOM), f"<{addr_spec}>"]
    # formataddr quotes a name with specials ("Smith, Ann"); a fold may fall inside the quotes.
    return formataddr((display_name, addr_spec)).split(" ")


class CachedHeaderRegistry(HeaderRegistry):
    """The stdlib registry creates a new class (``type(...)``) for every header it makes, a
    tenth of an email's CPU; the class for a header name only changes when its mapping does, so
    each is made once."""

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type[BaseHeader]] = {}

    def map_to_type(self, name: str, cls: type[BaseHeader]) -> None:
        super().map_to_type(name, cls)
        self._classes.clear()

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        cached = self._classes.get(key)
        if cached is None:
            cached = self._classes[key] = super().__getitem__(key)
        return cached


HEADERS = CachedHeaderRegistry()
for _name in ("list-unsubscribe", "list-unsubscribe-post"):
    HEADERS.map_to_type(_name, VerbatimHeader)
HEADERS.map_to_type("subject", TextHeader)
for _name in ("from", "to"):
    HEADERS.map_to_type(_name, MailboxHeader)

EMAIL_POLICY = email.policy.SMTP.clone(header_factory=HEADERS)
