"""The signed tokens of emailed links, read as FastAPI dependencies.

Each is a credential check (:func:`talent_shared.http.auth.credential_check`): it reads only the
request, so a route runs it before anything reads its body, and a forged or expired token answers
400 whatever the body. The ``token`` query parameter is declared by :data:`TokenParameter` for the
OpenAPI document and its bounds.
"""

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar
from uuid import UUID

from fastapi import Depends, HTTPException, Query, Request, status
from fastapi.exceptions import RequestValidationError

from talent_shared.http.auth import credential_check, is_admin
from talent_shared.settings import ServiceSettings
from talent_shared.tokens import InvalidTokenError, TokenPurpose, read_token

T = TypeVar("T")

MAX_TOKEN_LENGTH = 1000


async def token_parameter(
    token: Annotated[
        str, Query(min_length=1, max_length=MAX_TOKEN_LENGTH, description="signed link token")
    ],
) -> str:
    return token


async def manage_token_parameter(
    token: Annotated[
        str | None, Query(max_length=MAX_TOKEN_LENGTH, description="manage token")
    ] = None,
) -> str | None:
    return token


# The raw token, for the pages that show an invalid link as a page rather than an error.
LinkToken = Annotated[str, Depends(token_parameter)]


@dataclass(frozen=True)
class SignupLink:
    """What a confirmation link confirms: a pending sign-up (double opt-in), or the changes a
    repeat sign-up asked for (the changes email)."""

    candidate_id: UUID | None = None
    change_id: UUID | None = None


def _read(settings: ServiceSettings, purpose: TokenPurpose, token: str) -> UUID | None:
    with contextlib.suppress(InvalidTokenError):
        return read_token(settings.token_secret.get_secret_value(), purpose, token)
    return None


def read_confirm_link(settings: ServiceSettings, token: str) -> SignupLink | None:
    """The link of a confirmation or a changes email; ``None`` for anything else."""
    candidate_id = _read(settings, TokenPurpose.CONFIRM, token)
    if candidate_id is not None:
        return SignupLink(candidate_id=candidate_id)
    change_id = _read(settings, TokenPurpose.CHANGE, token)
    return SignupLink(change_id=change_id) if change_id is not None else None


def read_unsubscribe_link(settings: ServiceSettings, token: str) -> UUID | None:
    """The candidate of an unsubscribe link's token, or of the manage token the preference
    center's unsubscribe button holds."""
    return _read(settings, TokenPurpose.UNSUBSCRIBE, token) or _read(
        settings, TokenPurpose.MANAGE, token
    )


def read_manage_link(settings: ServiceSettings, token: str) -> UUID | None:
    """The candidate of a manage token (the preference center's link)."""
    return _read(settings, TokenPurpose.MANAGE, token)


def _settings(request: Request) -> ServiceSettings:
    settings: ServiceSettings = request.app.state.settings
    return settings


def _token_of(request: Request) -> str:
    """The ``token`` query parameter. One missing or too long is refused as FastAPI refuses a
    parameter (422 naming it); any other is read, and a forged or expired one is a 400."""
    token = request.query_params.get("token")
    if token is None:
        problem = {"msg": "Field required", "type": "missing"}
    elif len(token) > MAX_TOKEN_LENGTH:
        problem = {
            "msg": f"String should have at most {MAX_TOKEN_LENGTH} characters",
            "type": "string_too_long",
        }
    else:
        return token
    raise RequestValidationError([{"loc": ("query", "token"), **problem}])


def _read_link(request: Request, read: Callable[[ServiceSettings, str], T | None], what: str) -> T:
    """What the request's link token says, read by ``read``; a 400 when it is forged or
    expired."""
    found = read(_settings(request), _token_of(request))
    if found is None:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"invalid or expired {what} token")
    return found


@credential_check
async def confirm_link(request: Request) -> SignupLink:
    return _read_link(request, read_confirm_link, "confirmation")


@credential_check
async def unsubscribing_candidate(request: Request) -> UUID:
    return _read_link(request, read_unsubscribe_link, "unsubscribe")


@credential_check
async def managed_candidate(request: Request) -> UUID:
    return _read_link(request, read_manage_link, "manage")


@credential_check
async def may_manage(request: Request) -> None:
    """Admins may change anyone's preferences; a candidate may change their own with a manage
    token from one of their emails."""
    if is_admin(request):
        return
    if "token" not in request.query_params:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "an admin bearer token or the candidate's manage token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    owner = await managed_candidate(request)
    try:
        candidate_id = UUID(request.path_params.get("candidate_id", ""))
    except ValueError:
        return  # not a candidate id: the route's own validation answers 422
    if owner != candidate_id:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this token manages another candidate")


# The ``token`` query parameter, declared on the routes that read it through these.
TokenParameter = Depends(token_parameter)
ManageTokenParameter = Depends(manage_token_parameter)
ConfirmLink = Annotated[SignupLink, Depends(confirm_link)]
UnsubscribeToken = Annotated[UUID, Depends(unsubscribing_candidate)]
ManageToken = Annotated[UUID, Depends(managed_candidate)]
