"""HTTP routes of the signup service: thin, they validate, call ``service`` and map errors."""

import contextlib
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, status
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from talent_shared.http import (
    AdminOnly,
    CorrelationId,
    PublicRoute,
    admin_token_matches,
    fast_path_route,
    model_response,
    valid_body,
)
from talent_shared.http import correlation_id as correlation_id_of
from talent_shared.runtime import runtime_of
from talent_shared.tokens import InvalidTokenError, TokenPurpose, read_token
from talent_signup import service
from talent_signup.models import (
    Candidate,
    ConfirmationResult,
    PreferenceCenter,
    Preferences,
    SignupRequest,
    SignupResponse,
)
from talent_signup.pages import CONFIRMATION_PAGE, UNSUBSCRIBE_PAGE, LinkPage
from talent_signup.runtime import SignupRuntime

router = APIRouter(prefix="/v1")

signup_runtime = runtime_of(SignupRuntime)
Runtime = Annotated[SignupRuntime, Depends(signup_runtime)]
CandidateId = Annotated[UUID, Path(description="The candidate's id")]
Token = Annotated[str, Query(min_length=1, max_length=1000, description="signed link token")]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no candidate with this id"}}
BAD_TOKEN: dict[int | str, dict[str, Any]] = {400: {"description": "forged or expired token"}}
_bearer = HTTPBearer(auto_error=False)


def _not_found(candidate_id: UUID) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"candidate {candidate_id} not found")


def _secret(runtime: SignupRuntime) -> str:
    return runtime.settings.token_secret.get_secret_value()


async def sign_up(
    request: SignupRequest,
    http: Request,
    response: Response,
    runtime: Runtime,
    correlation_id: CorrelationId,
) -> SignupResponse:
    """Join the Talent Network. A new email gets 201 and one welcome email; the same email again
    (in any case) gets 200 with the same `candidate_id`, and its preferences are updated. With
    double opt-in, a new sign-up is `pending` and gets a confirmation email instead. Rate-limited
    per client address and per email: 429 with `Retry-After`, and nothing is written or sent."""
    response.status_code, answer = await _sign_up(runtime, request, http, correlation_id)
    return answer


async def _sign_up(
    runtime: SignupRuntime, request: SignupRequest, http: Request, correlation_id: str
) -> tuple[int, SignupResponse]:
    settings = runtime.settings
    outcome = await service.sign_up(
        pool=runtime.pool,
        relay=runtime.relay,
        request=request,
        limits=service.SignupLimits(
            client=http.client.host if http.client else "unknown",
            per_ip=settings.signup_rate_per_ip,
            per_email=settings.signup_rate_per_email,
            secret=_secret(runtime),
        ),
        consent_text_version=settings.consent_text_version,
        correlation_id=correlation_id,
        double_opt_in=settings.signup_double_opt_in,
    )
    if isinstance(outcome, service.RateLimited):
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "too many sign-ups: try again later",
            headers={"Retry-After": str(outcome.retry_after_seconds)},
        )
    answer = SignupResponse(
        candidate_id=outcome.candidate_id,
        status="pending" if outcome.status == "pending" else "subscribed",
    )
    return status.HTTP_201_CREATED if outcome.created else status.HTTP_200_OK, answer


async def _sign_up_fast(http: Request) -> Response | None:
    """``sign_up`` for a valid body, without FastAPI's machinery."""
    request = await valid_body(http, SignupRequest)
    if request is None:
        return None
    runtime = await signup_runtime(http)
    status_code, answer = await _sign_up(runtime, request, http, await correlation_id_of(http))
    return model_response(answer, status_code)


router.add_api_route(
    "/signups",
    sign_up,
    methods=["POST"],
    status_code=status.HTTP_201_CREATED,
    tags=["sign-up"],
    responses={
        200: {"description": "this email had signed up before: preferences updated"},
        429: {"description": "too many sign-ups from this address or for this email"},
    },
    route_class_override=fast_path_route(_sign_up_fast),
)


def _confirming(runtime: SignupRuntime, token: str) -> UUID:
    try:
        return read_token(_secret(runtime), TokenPurpose.CONFIRM, token)
    except InvalidTokenError as error:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, "invalid or expired confirmation token"
        ) from error


@router.get("/signups/confirm", response_class=HTMLResponse, tags=["sign-up"], responses=BAD_TOKEN)
async def confirmation(request: Request, token: Token, runtime: Runtime) -> HTMLResponse:
    """The confirmation email's link: a page with a button that POSTs. Opening the link
    confirms nothing, so a link scanner never signs anyone up."""
    return _link_page(request, token, CONFIRMATION_PAGE, valid=_reads(_confirming, runtime, token))


@router.post(
    "/signups/confirm",
    tags=["sign-up"],
    responses={
        200: {"description": "confirmed (also when already)"},
        **BAD_TOKEN,
        404: {"description": "the sign-up is no longer there (erased, or never confirmed)"},
    },
    response_model=ConfirmationResult,
)
async def confirm(
    request: Request, token: Token, runtime: Runtime, correlation_id: CorrelationId
) -> Response:
    """Confirm a pending sign-up (double opt-in): the welcome email and alerts start. Idempotent.
    Answers HTML to browsers, JSON otherwise."""
    candidate_id = _confirming(runtime, token)
    try:
        state = await service.confirm(
            pool=runtime.pool,
            relay=runtime.relay,
            candidate_id=candidate_id,
            correlation_id=correlation_id,
        )
    except (service.CandidateNotFoundError, service.CandidateErasedError) as error:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, "this sign-up is no longer there: sign up again"
        ) from error
    if _wants_html(request):
        return HTMLResponse(CONFIRMATION_PAGE.render_done())
    return JSONResponse(
        ConfirmationResult(candidate_id=candidate_id, status=state).model_dump(mode="json")
    )


@router.get(
    "/candidates/{candidate_id}", dependencies=[AdminOnly], tags=["candidates"], responses=NOT_FOUND
)
async def get_candidate(candidate_id: CandidateId, runtime: Runtime) -> Candidate:
    """The candidate, their preferences and their consent records (admin)."""
    try:
        return await service.get_candidate(pool=runtime.pool, candidate_id=candidate_id)
    except service.CandidateNotFoundError as error:
        raise _not_found(candidate_id) from error


async def _may_manage(
    candidate_id: UUID,
    runtime: SignupRuntime,
    credentials: HTTPAuthorizationCredentials | None,
    token: str | None,
) -> None:
    """Admins may change anyone's preferences; a candidate may change their own with a manage
    token from one of their emails."""
    if admin_token_matches(credentials, runtime.settings.admin_api_token.get_secret_value()):
        return
    if token is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "an admin bearer token or the candidate's manage token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        owner = read_token(_secret(runtime), TokenPurpose.MANAGE, token)
    except InvalidTokenError as error:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, "invalid or expired manage token"
        ) from error
    if owner != candidate_id:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this token manages another candidate")


@router.put(
    "/candidates/{candidate_id}/preferences",
    tags=["candidates"],
    responses={
        **NOT_FOUND,
        **BAD_TOKEN,
        401: {"description": "neither an admin token nor a manage token"},
        403: {"description": "token of another candidate"},
    },
)
async def put_preferences(
    candidate_id: CandidateId,
    preferences: Preferences,
    runtime: Runtime,
    correlation_id: CorrelationId,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    token: Annotated[str | None, Query(max_length=1000, description="manage token")] = None,
) -> Preferences:
    """Replace the candidate's alert preferences (admin, or the candidate's manage token);
    emits `CandidatePreferencesChanged`."""
    await _may_manage(candidate_id, runtime, credentials, token)
    try:
        return await service.change_preferences(
            pool=runtime.pool,
            relay=runtime.relay,
            candidate_id=candidate_id,
            preferences=preferences,
            correlation_id=correlation_id,
        )
    except service.CandidateNotFoundError as error:
        raise _not_found(candidate_id) from error


@router.get(
    "/preferences",
    tags=["preferences"],
    responses={
        **BAD_TOKEN,
        404: {"description": "the candidate is no longer there (erased)"},
    },
)
async def get_preference_center(token: Token, runtime: Runtime) -> PreferenceCenter:
    """What the preference center shows for a manage token (from any email): the candidate's
    preferences, whether they are subscribed, and their email address masked."""
    try:
        candidate_id = read_token(_secret(runtime), TokenPurpose.MANAGE, token)
    except InvalidTokenError as error:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, "invalid or expired manage token"
        ) from error
    try:
        return await service.preference_center(pool=runtime.pool, candidate_id=candidate_id)
    except service.CandidateNotFoundError as error:
        raise _not_found(candidate_id) from error


def _unsubscribing(runtime: SignupRuntime, token: str) -> UUID:
    """The candidate of an unsubscribe link's token, or of the manage token the preference
    center's unsubscribe button holds; raises InvalidTokenError for anything else."""
    for purpose in (TokenPurpose.UNSUBSCRIBE, TokenPurpose.MANAGE):
        with contextlib.suppress(InvalidTokenError):
            return read_token(_secret(runtime), purpose, token)
    raise InvalidTokenError("neither an unsubscribe nor a manage token")


def _reads(read: Callable[[SignupRuntime, str], UUID], runtime: SignupRuntime, token: str) -> bool:
    try:
        read(runtime, token)
    except (InvalidTokenError, HTTPException):
        return False
    return True


def _link_page(request: Request, token: str, page: LinkPage, *, valid: bool) -> HTMLResponse:
    """The page behind an emailed link; its button posts back to the same path (relative, so
    it works behind the gateway)."""
    if not valid:
        return HTMLResponse(page.render(form_action=None), status_code=status.HTTP_400_BAD_REQUEST)
    action = f"{request.url.path}?{urlencode({'token': token})}"
    return HTMLResponse(page.render(form_action=action), headers={"Cache-Control": "no-store"})


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


@router.get("/unsubscribe", response_class=HTMLResponse, tags=["unsubscribe"], responses=BAD_TOKEN)
async def unsubscribe_confirmation(
    request: Request, token: Token, runtime: Runtime
) -> HTMLResponse:
    """A page with a confirm button that POSTs. Following the link changes nothing, so a link
    scanner never unsubscribes anyone."""
    valid = _reads(_unsubscribing, runtime, token)
    return _link_page(request, token, UNSUBSCRIBE_PAGE, valid=valid)


@router.post(
    "/unsubscribe",
    tags=["unsubscribe"],
    responses={200: {"description": "unsubscribed (also when already)"}, **BAD_TOKEN},
)
async def unsubscribe(
    request: Request, token: Token, runtime: Runtime, correlation_id: CorrelationId
) -> Response:
    """RFC 8058 one-click unsubscribe (the form body `List-Unsubscribe=One-Click` is accepted);
    idempotent. The token is an unsubscribe link's or a manage token (the preference center's
    button). Answers HTML to browsers, JSON otherwise."""
    try:
        candidate_id = _unsubscribing(runtime, token)
    except InvalidTokenError as error:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, "invalid or expired unsubscribe token"
        ) from error
    try:
        await service.unsubscribe(
            pool=runtime.pool,
            relay=runtime.relay,
            candidate_id=candidate_id,
            correlation_id=correlation_id,
        )
    except service.CandidateNotFoundError as error:
        raise _not_found(candidate_id) from error
    if _wants_html(request):
        return HTMLResponse(UNSUBSCRIBE_PAGE.render_done())
    return JSONResponse({"candidate_id": str(candidate_id), "status": "unsubscribed"})


@router.delete(
    "/candidates/{candidate_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[AdminOnly],
    tags=["candidates"],
    responses=NOT_FOUND,
)
async def erase_candidate(
    candidate_id: CandidateId, runtime: Runtime, correlation_id: CorrelationId
) -> Response:
    """Erase all personal data of the candidate, here and (through `CandidateErased`) in every
    service (admin). Erasing an erased candidate is a no-op."""
    try:
        await service.erase(
            pool=runtime.pool,
            relay=runtime.relay,
            candidate_id=candidate_id,
            secret=_secret(runtime),
            correlation_id=correlation_id,
        )
    except service.CandidateNotFoundError as error:
        raise _not_found(candidate_id) from error
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# The routes pages on CORS_ALLOWED_ORIGINS may call; no other route answers another origin
# (changing preferences is public only with the candidate's manage token).
PUBLIC_ROUTES = (
    PublicRoute(sign_up),
    PublicRoute(confirmation),
    PublicRoute(confirm),
    PublicRoute(get_preference_center),
    PublicRoute(put_preferences, only_with_query="token"),
    PublicRoute(unsubscribe_confirmation),
    PublicRoute(unsubscribe),
)
