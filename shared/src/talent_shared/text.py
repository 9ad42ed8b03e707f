"""Text that users send, PostgreSQL stores, and an inbox or a page shows later.

What is refused at the edge (422 naming the field) can never fail to render or send later: a line
break in a name once made every email header with it fail for good. Single-line text refuses the C0
and C1 control characters, U+2028 and U+2029 (line and paragraph separators) and the bidi controls
(U+202A to U+202E, U+2066 to U+2069, which can make a name read backwards); multi-line text (a
job's description) may also hold line breaks and tabs.
"""

import re

from pydantic import AfterValidator, StringConstraints

NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL: refuse it at the edge with a 422

_BIDI_AND_SEPARATORS = "\u2028\u2029\u202a-\u202e\u2066-\u2069"
_CONTROL = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI_AND_SEPARATORS}]")
_CONTROL_BUT_LINE_BREAKS = re.compile(
    f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_BIDI_AND_SEPARATORS}]"
)
_LINK_LIKE = re.compile(r"://|www\.|@", re.IGNORECASE)


def single_line(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must be one line without control characters")
    return value


def multi_line(value: str) -> str:
    if _CONTROL_BUT_LINE_BREAKS.search(value):
        raise ValueError("must not contain control characters other than line breaks and tabs")
    return value


def no_link(value: str) -> str:
    """A person's name: what an inbox or page shows of it must not pass for a link or address."""
    if _LINK_LIKE.search(value):
        raise ValueError("a name must not contain '://', 'www.' or '@'")
    return value


def without_controls(value: str) -> str:
    """``value`` with every control character a single line refuses replaced by a space: for
    text that reached us before these checks (older events, replicas), about to be sent."""
    return _CONTROL.sub(" ", value)


def text(max_length: int, *, min_length: int = 1) -> StringConstraints:
    """Trimmed, bounded text without NUL; use as ``Annotated[str, text(200)]``."""
    return StringConstraints(
        strip_whitespace=True, min_length=min_length, max_length=max_length, pattern=NO_NUL
    )


OneLine = AfterValidator(single_line)
MultiLine = AfterValidator(multi_line)
NoLink = AfterValidator(no_link)
