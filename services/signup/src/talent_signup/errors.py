"""The signup service's domain errors; the API maps each to its HTTP answer."""

from uuid import UUID


class CandidateNotFoundError(LookupError):
    def __init__(self, candidate_id: UUID) -> None:
        super().__init__(f"candidate {candidate_id} not found")


class SignupGoneError(LookupError):
    """A link for a sign-up or change that is no longer there: erased (by an admin, or left
    unconfirmed for too long) or never made."""

    def __init__(self) -> None:
        super().__init__("this sign-up is no longer there: sign up again")


class RateLimitedError(Exception):
    """The sign-up was refused and nothing written but its count: retry after this long."""

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__("too many sign-ups: try again later")
        self.headers = {"Retry-After": str(retry_after_seconds)}
