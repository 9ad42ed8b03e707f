"""Constraints for text that users send and PostgreSQL stores."""

from pydantic import StringConstraints

NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL: refuse it at the edge with a 422


def text(max_length: int, *, min_length: int = 1) -> StringConstraints:
    """Trimmed, bounded text without NUL; use as ``Annotated[str, text(200)]``."""
    return StringConstraints(
        strip_whitespace=True, min_length=min_length, max_length=max_length, pattern=NO_NUL
    )
