"""The bytes of an email: our headers, then a multipart/alternative body of a text and an HTML
part, every line 7-bit and CRLF-terminated, ready for SMTP DATA.

Written here rather than with ``EmailMessage`` and its generator: building and flattening the
message with the standard library was about 40 % of the notifications service's CPU per email
(1.1 of 3 ms, py-spy during `make bench`), and its output is fixed: our header classes already
write every header (see :mod:`talent_notifications.headers`), and the body is two text parts.
A part is sent as it is (7bit) when it is ASCII with lines of at most 78 characters, else as
quoted-printable (``binascii``, in C), so no server needs 8BITMIME.
"""

import binascii
from collections.abc import Iterable
from uuid import uuid4

MAX_7BIT_LINE = 78  # RFC 5322 2.1.1: SHOULD be no more than 78 characters
CRLF = b"\r\n"


def multipart_alternative(headers: Iterable[str], text: str, html: str) -> bytes:
    """The message: ``headers`` (each folded, ending in CRLF), then the text and HTML parts."""
    parts = [_part("plain", text), _part("html", html)]
    boundary = _boundary_outside(parts)
    head = "".join(headers) + (
        f'MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="{boundary}"\r\n'
    )
    # The CRLF before a delimiter belongs to the delimiter (RFC 2046 5.1.1), not to the part.
    delimiter = b"--" + boundary.encode()
    body = b"".join(delimiter + CRLF + part + CRLF for part in parts) + delimiter + b"--" + CRLF
    return head.encode("ascii") + CRLF + body


def _part(subtype: str, text: str) -> bytes:
    data = text.replace("\r\n", "\n").replace("\r", "\n").encode()
    if not data.endswith(b"\n"):
        data += b"\n"
    if data.isascii() and max(len(line) for line in data.split(b"\n")) <= MAX_7BIT_LINE:
        encoding = "7bit"
    else:
        encoding, data = "quoted-printable", binascii.b2a_qp(data, istext=True)
    head = (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        f"Content-Transfer-Encoding: {encoding}\r\n\r\n"
    )
    return head.encode("ascii") + data.replace(b"\n", CRLF)


def _boundary_outside(parts: list[bytes]) -> str:
    """A boundary no part contains. "=_" never occurs in quoted-printable (RFC 2045 6.7), so
    only a 7bit part could hold it, and a random one almost never does: drawn again if so."""
    while True:
        boundary = f"=_{uuid4().hex}"
        if not any(boundary.encode() in part for part in parts):
            return boundary
