"""HTTP routes of the signup service: thin, they validate, call the service and answer. Domain
errors become answers through ``ERRORS``; link tokens are read by the dependencies of
:mod:`talent_signup.links`."""

from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import Depends, Path, Request, Response, status
from fastapi.responses import HTMLResponse, JSONResponse

from talent_shared.app import runtime_of
from talent_shared.http.auth import api_router, bearer_scheme
from talent_shared.http.bodies import fast_path_route, model_response, valid_body
from talent_shared.http.common import CorrelationId, described
from talent_shared.http.common import correlation_id as correlation_id_of
from talent_shared.http.cors import PublicRoute
from talent_signup import service, signups
from talent_signup.errors import CandidateNotFoundError, RateLimitedError, SignupGoneError
from talent_signup.links import (
    ConfirmLink,
    LinkToken,
    ManageToken,
    ManageTokenParameter,
    TokenParameter,
    UnsubscribeToken,
    may_manage,
    read_confirm_link,
    read_unsubscribe_link,
)
from talent_signup.models import (
    Candidate,
    ConfirmationResult,
    PreferenceCenter,
    Preferences,
    SignupRequest,
    SignupResponse,
)
from talent_signup.pages import CHANGES_PAGE, CONFIRMATION_PAGE, UNSUBSCRIBE_PAGE, LinkPage
from talent_signup.runtime import SignupRuntime

sign_ups = api_router("sign-up")
admin = api_router("candidates", admin=True)
candidates = api_router("candidates")
preference_center = api_router("preferences")
unsubscribing = api_router("unsubscribe")
ROUTERS = (sign_ups, admin, candidates, preference_center, unsubscribing)

signup_runtime = runtime_of(SignupRuntime)
Runtime = Annotated[SignupRuntime, Depends(signup_runtime)]
CandidateId = Annotated[UUID, Path(description="The candidate's id")]
NOT_FOUND = described(404, "no candidate with this id")
BAD_TOKEN = described(400, "forged or expired token")
GONE = described(404, "the sign-up or change is no longer there (erased, or never made)")
# The domain's errors and the status each answers (their message is the detail).
ERRORS = {
    CandidateNotFoundError: status.HTTP_404_NOT_FOUND,
    SignupGoneError: status.HTTP_404_NOT_FOUND,
    RateLimitedError: status.HTTP_429_TOO_MANY_REQUESTS,
}


async def sign_up(
    request: SignupRequest,
    http: Request,
    response: Response,
    runtime: Runtime,
    correlation_id: CorrelationId,
) -> SignupResponse:
    """Join the Talent Network. A new email gets 201 and one welcome email (with double opt-in:
    `pending` and a confirmation email). An email that belongs to a candidate already (in any
    case) gets 200 `pending` and changes nothing: that address is sent one email, at most one an
    hour, to confirm the changes asked for, or saying it is a member already. Rate-limited per
    client address and per email: 429 with `Retry-After`, and nothing is written or sent."""
    response.status_code, answer = await _sign_up(runtime, request, http, correlation_id)
    return answer


async def _sign_up(
    runtime: SignupRuntime, request: SignupRequest, http: Request, correlation_id: str
) -> tuple[int, SignupResponse]:
    settings = runtime.settings
    outcome = await signups.sign_up(
        runtime.relay,
        request,
        correlation_id,
        limits=signups.SignupLimits(
            client=http.client.host if http.client else "unknown",
            per_ip=settings.signup_rate_per_ip,
            per_email=settings.signup_rate_per_email,
            secret=settings.token_secret.get_secret_value(),
        ),
        consent_text_version=settings.consent_text_version,
        double_opt_in=settings.signup_double_opt_in,
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


sign_ups.add_api_route(
    "/signups",
    sign_up,
    methods=["POST"],
    status_code=status.HTTP_201_CREATED,
    responses=described(200, "this email belongs to a candidate: nothing changed, email sent")
    | described(429, "too many sign-ups from this address or for this email"),
    route_class_override=fast_path_route(_sign_up_fast),
)


@sign_ups.get("/signups/confirm", response_class=HTMLResponse, responses=BAD_TOKEN)
async def confirmation(request: Request, token: LinkToken, runtime: Runtime) -> HTMLResponse:
    """The link of a confirmation or a changes email: a page (the changes it would make) with
    a button that POSTs. Opening the link changes nothing, so a link scanner never acts."""
    link = read_confirm_link(runtime.settings, token)
    if link is None:
        return _invalid_link_page(CONFIRMATION_PAGE)
    if link.change_id is None:
        return _link_page(request, token, CONFIRMATION_PAGE)
    try:
        change = await signups.pending_change(pool=runtime.pool, change_id=link.change_id)
    except SignupGoneError:
        return _invalid_link_page(CHANGES_PAGE)
    if change.applied:
        return HTMLResponse(CHANGES_PAGE.render_done())
    return _link_page(request, token, CHANGES_PAGE, change.changes)


@sign_ups.post(
    "/signups/confirm",
    dependencies=[TokenParameter],
    responses=described(200, "confirmed (also when already)") | BAD_TOKEN | GONE,
    response_model=ConfirmationResult,
)
async def confirm(
    request: Request, link: ConfirmLink, runtime: Runtime, correlation_id: CorrelationId
) -> Response:
    """Confirm a pending sign-up (double opt-in: the welcome email and alerts start), or apply
    the changes of a changes email (re-subscribing when needed). Idempotent. Answers HTML to
    browsers, JSON otherwise."""
    if link.candidate_id is not None:
        candidate_id = link.candidate_id
        state = await signups.confirm(runtime.relay, candidate_id, correlation_id)
        page = CONFIRMATION_PAGE
    else:
        assert link.change_id is not None
        candidate_id = await signups.apply_change(runtime.relay, link.change_id, correlation_id)
        state, page = "subscribed", CHANGES_PAGE
    if _wants_html(request):
        return HTMLResponse(page.render_done())
    return JSONResponse(
        ConfirmationResult(candidate_id=candidate_id, status=state).model_dump(mode="json")
    )


@admin.get("/candidates/{candidate_id}", responses=NOT_FOUND)
async def get_candidate(candidate_id: CandidateId, runtime: Runtime) -> Candidate:
    """The candidate, their preferences and their consent records (admin)."""
    return await service.get_candidate(pool=runtime.pool, candidate_id=candidate_id)


@candidates.put(
    "/candidates/{candidate_id}/preferences",
    dependencies=[Depends(bearer_scheme), ManageTokenParameter, Depends(may_manage)],
    responses=NOT_FOUND
    | BAD_TOKEN
    | described(401, "neither an admin token nor a manage token")
    | described(403, "token of another candidate"),
)
async def put_preferences(
    candidate_id: CandidateId,
    preferences: Preferences,
    runtime: Runtime,
    correlation_id: CorrelationId,
) -> Preferences:
    """Replace the candidate's alert preferences (admin, or the candidate's manage token in
    `token`); emits `CandidatePreferencesChanged`. The credentials are checked first."""
    return await service.change_preferences(
        runtime.relay, candidate_id, preferences, correlation_id
    )


@preference_center.get(
    "/preferences",
    dependencies=[TokenParameter],
    responses=BAD_TOKEN | described(404, "the candidate is no longer there (erased)"),
)
async def get_preference_center(candidate_id: ManageToken, runtime: Runtime) -> PreferenceCenter:
    """What the preference center shows for a manage token (from any email): the candidate's
    preferences, whether they are subscribed, and their email address masked."""
    return await service.preference_center(pool=runtime.pool, candidate_id=candidate_id)


def _link_page(
    request: Request, token: str, page: LinkPage, changes: list[Any] | None = None
) -> HTMLResponse:
    """The page behind an emailed link; its button posts back to the same path (relative, so
    it works behind the gateway)."""
    action = f"{request.url.path}?{urlencode({'token': token})}"
    return HTMLResponse(
        page.render(form_action=action, changes=changes or ()),
        headers={"Cache-Control": "no-store"},
    )


def _invalid_link_page(page: LinkPage) -> HTMLResponse:
    return HTMLResponse(page.render(form_action=None), status_code=status.HTTP_400_BAD_REQUEST)


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


@unsubscribing.get("/unsubscribe", response_class=HTMLResponse, responses=BAD_TOKEN)
async def unsubscribe_confirmation(
    request: Request, token: LinkToken, runtime: Runtime
) -> HTMLResponse:
    """A page with a confirm button that POSTs. Following the link changes nothing, so a link
    scanner never unsubscribes anyone."""
    if read_unsubscribe_link(runtime.settings, token) is None:
        return _invalid_link_page(UNSUBSCRIBE_PAGE)
    return _link_page(request, token, UNSUBSCRIBE_PAGE)


@unsubscribing.post(
    "/unsubscribe",
    dependencies=[TokenParameter],
    responses=described(200, "unsubscribed (also when already)") | BAD_TOKEN,
)
async def unsubscribe(
    request: Request,
    candidate_id: UnsubscribeToken,
    runtime: Runtime,
    correlation_id: CorrelationId,
) -> Response:
    """RFC 8058 one-click unsubscribe (the form body `List-Unsubscribe=One-Click` is accepted);
    idempotent. The token is an unsubscribe link's or a manage token (the preference center's
    button). Answers HTML to browsers, JSON otherwise."""
    await service.unsubscribe(runtime.relay, candidate_id, correlation_id)
    if _wants_html(request):
        return HTMLResponse(UNSUBSCRIBE_PAGE.render_done())
    return JSONResponse({"candidate_id": str(candidate_id), "status": "unsubscribed"})


@admin.delete(
    "/candidates/{candidate_id}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND
)
async def erase_candidate(
    candidate_id: CandidateId, runtime: Runtime, correlation_id: CorrelationId
) -> Response:
    """Erase all personal data of the candidate, here and (through `CandidateErased`) in every
    service (admin). Erasing an erased candidate is a no-op."""
    secret = runtime.settings.token_secret.get_secret_value()
    await service.erase(runtime.relay, candidate_id, correlation_id, secret=secret)
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
