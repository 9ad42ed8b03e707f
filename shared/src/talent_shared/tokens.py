"""Signed, tamper-proof tokens for email links (itsdangerous).

Each token names its purpose, and a token made for one purpose is refused for another, so an
unsubscribe link cannot change preferences or open the preference center. (Unsubscribing takes
either token: the preference center's unsubscribe button holds the manage token.) The signing key is
TOKEN_SECRET, shared by the services that make links (notifications) and honour them (signup).
"""

from enum import StrEnum
from uuid import UUID

from itsdangerous import BadData, URLSafeTimedSerializer


class TokenPurpose(StrEnum):
    UNSUBSCRIBE = "unsubscribe"
    MANAGE = "manage"
    CONFIRM = "confirm"
    CHANGE = "change"  # bound to one change request, not to the candidate


# Unsubscribe links must keep working in old emails (RFC 8058); manage links expire sooner.
MAX_AGE_SECONDS = {
    TokenPurpose.UNSUBSCRIBE: 2 * 365 * 24 * 3600,
    TokenPurpose.MANAGE: 90 * 24 * 3600,
    # A pending sign-up is erased after 7 days; a day more lets that erasure answer the link.
    TokenPurpose.CONFIRM: 8 * 24 * 3600,
    TokenPurpose.CHANGE: 7 * 24 * 3600,
}


class InvalidTokenError(ValueError):
    """Forged, altered, expired, or made for another purpose."""


def _serializer(secret: str, purpose: TokenPurpose) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=f"talent-network.{purpose.value}")


def make_token(secret: str, purpose: TokenPurpose, subject: UUID) -> str:
    """A token for ``subject``: the candidate, or for ``CHANGE`` the change request."""
    return _serializer(secret, purpose).dumps(str(subject))


def read_token(
    secret: str, purpose: TokenPurpose, token: str, *, max_age: int | None = None
) -> UUID:
    """The id the token was made for; raises :class:`InvalidTokenError` otherwise."""
    try:
        value = _serializer(secret, purpose).loads(
            token, max_age=max_age if max_age is not None else MAX_AGE_SECONDS[purpose]
        )
        return UUID(str(value))
    except (BadData, ValueError) as error:
        raise InvalidTokenError(f"invalid {purpose.value} token") from error
