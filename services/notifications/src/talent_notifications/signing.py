"""DKIM signatures (RFC 6376) with dkimpy: rsa-sha256, relaxed/relaxed, over the headers a
mailbox provider checks. On when DKIM_PRIVATE_KEY_FILE, DKIM_DOMAIN and DKIM_SELECTOR are set."""

from pathlib import Path

import dkim

from talent_notifications.settings import NotificationsSettings

# Every header our messages carry that a reader relies on; one absent from a message (the
# List-Unsubscribe of a transactional email) is signed as absent, so it cannot be added later.
SIGNED_HEADERS = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"mime-version",
    b"content-type",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
)


class DkimSigner:
    def __init__(self, *, private_key: bytes, domain: str, selector: str) -> None:
        self._private_key = private_key
        self._domain = domain.encode()
        self._selector = selector.encode()

    @classmethod
    def from_settings(cls, settings: NotificationsSettings) -> "DkimSigner | None":
        if settings.dkim_private_key_file is None:
            return None
        signer = cls(
            private_key=Path(settings.dkim_private_key_file).read_bytes(),
            domain=settings.dkim_domain,
            selector=settings.dkim_selector,
        )
        signer.sign(b"From: start@example.org\r\nSubject: check\r\n\r\nThe key signs.\r\n")
        return signer

    def sign(self, message: bytes) -> bytes:
        """``message`` (CRLF lines) with its DKIM-Signature header first."""
        signature: bytes = dkim.sign(
            message,
            self._selector,
            self._domain,
            self._private_key,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=list(SIGNED_HEADERS),
        )
        return signature + message
