"""HTTP routes of the jobs service: thin, they validate, call ``service`` and map errors."""

from collections.abc import Callable
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Path, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError

from talent_jobs import feeds, service
from talent_jobs.models import (
    MAX_BATCH_BODY_BYTES,
    MAX_FEED_BODY_BYTES,
    FeedJob,
    FeedSynced,
    Job,
    JobCreate,
    JobFacets,
    JobFeed,
    JobFields,
    JobPage,
    JobUpdate,
    JobViewAccepted,
    JobViewBatchAccepted,
    JobViewBatchIn,
    JobViewIn,
    RecentlyViewed,
    RequisitionId,
    ValidJobViewBatch,
    VisitorId,
)
from talent_jobs.pagination import InvalidCursorError, decode_cursor
from talent_jobs.repository import JobFilters
from talent_jobs.runtime import JobsRuntime
from talent_shared.app import runtime_of
from talent_shared.http.auth import api_router
from talent_shared.http.bodies import (
    TextPlainJsonRoute,
    fast_path_route,
    model_response,
    valid_body,
)
from talent_shared.http.common import CorrelationId, described
from talent_shared.http.common import correlation_id as correlation_id_of
from talent_shared.http.cors import PublicRoute
from talent_shared.text import NO_NUL

admin = api_router("jobs", admin=True)
catalogue = api_router("jobs")
views = api_router("recently viewed")
ROUTERS = (admin, catalogue, views)
# The domain's errors and the status each answers (their message is the detail).
ERRORS = {
    service.JobNotFoundError: status.HTTP_404_NOT_FOUND,
    service.DuplicateRequisitionError: status.HTTP_409_CONFLICT,
    service.ViewsNotRecordedError: status.HTTP_503_SERVICE_UNAVAILABLE,
}
# The answers the routes document besides their success.
NOT_FOUND = described(404, "no job with this id")
KAFKA_UNAVAILABLE = described(503, "Kafka did not take the events; retry later")
CONFLICT = described(409, "requisition_id already used")

jobs_runtime = runtime_of(JobsRuntime)
Runtime = Annotated[JobsRuntime, Depends(jobs_runtime)]
JobId = Annotated[UUID, Path(description="The job's id")]
JSON_OR_TEXT = frozenset({"application/json", "text/plain"})  # text/plain: navigator.sendBeacon
DEFAULT_RECENTLY_VIEWED = 10
RecentlyViewedLimit = Annotated[int, Query(ge=1, le=50)]
# The same checks as FastAPI's for these parameters, for the fast path (pydantic, lax too).
VISITOR_ID = TypeAdapter(VisitorId)
RECENTLY_VIEWED_LIMIT = TypeAdapter(RecentlyViewedLimit)


async def valid_cursor(
    cursor: Annotated[
        str | None, Query(max_length=500, description="next_cursor of a page")
    ] = None,
) -> str | None:
    """A cursor this API returned, or a 422 naming the parameter."""
    if cursor is not None:
        try:
            decode_cursor(cursor)
        except InvalidCursorError as error:
            raise RequestValidationError(
                [{"loc": ("query", "cursor"), "msg": str(error), "type": "value_error"}]
            ) from error
    return cursor


@admin.post("/jobs", status_code=status.HTTP_201_CREATED, responses=CONFLICT)
async def create_job(new: JobCreate, runtime: Runtime, correlation_id: CorrelationId) -> Job:
    """Post a job (admin); emits `JobPosted`."""
    return await service.create_job(runtime.relay, runtime.known_jobs, new, correlation_id)


@admin.patch("/jobs/{job_id}", responses=NOT_FOUND | CONFLICT)
async def update_job(
    job_id: JobId, update: JobUpdate, runtime: Runtime, correlation_id: CorrelationId
) -> Job:
    """Change some fields of a job (admin); emits `JobUpdated` when something changed."""
    return await service.update_job(runtime.relay, job_id, update, correlation_id)


@admin.post("/jobs/{job_id}/close", responses=NOT_FOUND)
async def close_job(job_id: JobId, runtime: Runtime, correlation_id: CorrelationId) -> Job:
    """Close a job (admin); emits `JobClosed`. Closing a closed job changes nothing."""
    return await service.close_job(runtime.relay, job_id, correlation_id)


RequisitionPath = Annotated[RequisitionId, Path(description="the job's id in the ATS")]


@admin.put(
    "/jobs/by-requisition/{requisition_id}",
    responses={
        201: {"description": "a new job", "model": Job},
        200: {"description": "updated, reopened, or unchanged (then nothing is emitted)"},
    },
)
async def put_job_by_requisition(
    requisition_id: RequisitionPath,
    fields: JobFields,
    response: Response,
    runtime: Runtime,
    correlation_id: CorrelationId,
) -> Job:
    """Create or update the job of this requisition id (admin), for an ATS: idempotent, the
    same body twice emits one event (`JobPosted` or `JobUpdated`); a closed job is reopened."""
    job_of_requisition = FeedJob(requisition_id=requisition_id, **fields.model_dump())
    job, outcome = await feeds.put_by_requisition(
        runtime.relay, runtime.known_jobs, job_of_requisition, correlation_id
    )
    response.status_code = status.HTTP_201_CREATED if outcome == "created" else status.HTTP_200_OK
    return job


@admin.post("/jobs/sync", status_code=202)
async def sync_jobs(feed: JobFeed, runtime: Runtime, correlation_id: CorrelationId) -> FeedSynced:
    """Take an ATS's whole feed (admin, up to 5,000 jobs, each with its `requisition_id`): jobs
    it adds are posted, jobs it changes updated (a closed one reopened), and open jobs with a
    requisition id that it lacks are closed; jobs posted without one are left alone. Only the
    changes emit events. 422 names the job (its index) and the field of an invalid one."""
    if repeated := feed.repeated_requisitions():
        raise RequestValidationError(repeated)
    return await feeds.sync_feed(runtime.relay, runtime.known_jobs, feed.jobs, correlation_id)


@catalogue.get("/jobs")
async def list_jobs(
    runtime: Runtime,
    featured: Annotated[bool | None, Query(description="only featured (or not) jobs")] = None,
    category: Annotated[
        str | None, Query(max_length=100, pattern=NO_NUL, description="exact, any case")
    ] = None,
    location: Annotated[
        str | None, Query(max_length=200, pattern=NO_NUL, description="contains, any case")
    ] = None,
    q: Annotated[
        str | None,
        Query(max_length=200, pattern=NO_NUL, description="words in title or description"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Depends(valid_cursor)] = None,
) -> JobPage:
    """Open jobs, newest first, one page at a time."""
    filters = JobFilters(featured=featured, category=category, location=location, q=q)
    return await service.list_jobs(pool=runtime.pool, filters=filters, cursor=cursor, limit=limit)


# Declared before /jobs/{job_id}, which would take "facets" for a job id.
@catalogue.get("/jobs/facets")
async def job_facets(runtime: Runtime) -> JobFacets:
    """The categories and locations of the open jobs, each with its number of open jobs, the
    most common first: the choices a search or sign-up form offers."""
    return await service.job_facets(pool=runtime.pool)


@catalogue.get("/jobs/{job_id}", responses=NOT_FOUND)
async def get_job(job_id: JobId, runtime: Runtime) -> Job:
    """One job, closed ones included (see `status`)."""
    return await service.get_job(pool=runtime.pool, job_id=job_id)


async def _post_job_view_fast(request: Request) -> Response | None:
    """``post_job_view`` for a valid body, without FastAPI's machinery."""
    view = await valid_body(request, JobViewIn)
    if view is None:
        return None
    runtime = await jobs_runtime(request)
    event_id = await service.record_job_view(runtime.views, view, await correlation_id_of(request))
    return model_response(JobViewAccepted(event_id=event_id), status.HTTP_202_ACCEPTED)


async def _post_job_views_batch_fast(request: Request) -> Response | None:
    """``post_job_views_batch`` for a batch of valid events, without FastAPI's machinery."""
    batch = await valid_body(request, ValidJobViewBatch, JSON_OR_TEXT)
    if batch is None:
        return None
    runtime = await jobs_runtime(request)
    accepted = await service.record_job_views(
        runtime.views, list(enumerate(batch.events)), (), await correlation_id_of(request)
    )
    return model_response(accepted, status.HTTP_202_ACCEPTED)


async def post_job_view(
    view: JobViewIn, runtime: Runtime, correlation_id: CorrelationId
) -> JobViewAccepted:
    """Record that a visitor viewed a job. A 202 means the event is durably in Kafka."""
    event_id = await service.record_job_view(runtime.views, view, correlation_id)
    return JobViewAccepted(event_id=event_id)


views.add_api_route(
    "/job-views",
    post_job_view,
    methods=["POST"],
    status_code=status.HTTP_202_ACCEPTED,
    responses=NOT_FOUND | KAFKA_UNAVAILABLE,
    route_class_override=fast_path_route(_post_job_view_fast),
)


async def post_job_views_batch(
    batch: JobViewBatchIn, runtime: Runtime, correlation_id: CorrelationId
) -> JobViewBatchAccepted:
    """Record many job views at once (at most 500 events and 256 KiB), for example flushed by
    `navigator.sendBeacon`, which sends them as `text/plain`. Each event is checked like the
    body of `POST /v1/job-views`; an invalid event or an unknown job rejects that event only.
    A 202 means every accepted event is durably in Kafka; on 503 nothing is promised, send the
    batch again."""
    views, invalid = service.validate_job_views(batch.events)
    return await service.record_job_views(runtime.views, views, invalid, correlation_id)


views.add_api_route(
    "/job-views/batch",
    post_job_views_batch,
    methods=["POST"],
    status_code=status.HTTP_202_ACCEPTED,
    summary="Post Job Views Batch",
    responses=KAFKA_UNAVAILABLE,
    route_class_override=fast_path_route(_post_job_views_batch_fast, base=TextPlainJsonRoute),
    openapi_extra={
        "requestBody": {
            "content": {
                "text/plain": {
                    "schema": {
                        "type": "string",
                        "contentMediaType": "application/json",
                        "description": "the same JSON document, as navigator.sendBeacon sends it",
                    }
                }
            }
        }
    },
)


async def get_recently_viewed(
    visitor_id: Annotated[VisitorId, Path()],
    runtime: Runtime,
    limit: RecentlyViewedLimit = DEFAULT_RECENTLY_VIEWED,
) -> Response:
    """Distinct open jobs the visitor viewed, most recent first; an unknown visitor has none."""
    return await _recently_viewed(runtime, visitor_id, limit)


async def _recently_viewed(runtime: JobsRuntime, visitor_id: str, limit: int) -> Response:
    body = await service.recently_viewed_json(pool=runtime.pool, visitor_id=visitor_id, limit=limit)
    return Response(body, media_type="application/json")


async def _get_recently_viewed_fast(request: Request) -> Response | None:
    """``get_recently_viewed`` for a valid visitor id and limit, without FastAPI's machinery."""
    try:
        visitor_id = VISITOR_ID.validate_python(request.path_params["visitor_id"])
        limit = RECENTLY_VIEWED_LIMIT.validate_python(
            request.query_params.get("limit", DEFAULT_RECENTLY_VIEWED)
        )
    except ValidationError:
        return None
    return await _recently_viewed(await jobs_runtime(request), visitor_id, limit)


views.add_api_route(
    "/visitors/{visitor_id}/recently-viewed",
    get_recently_viewed,
    methods=["GET"],
    response_model=RecentlyViewed,
    route_class_override=fast_path_route(_get_recently_viewed_fast),
)


# The routes pages on CORS_ALLOWED_ORIGINS may call; no other route answers another origin.
PUBLIC_ROUTES: tuple[PublicRoute, ...] = (
    PublicRoute(list_jobs),
    PublicRoute(get_job),
    PublicRoute(job_facets),
    PublicRoute(post_job_view),
    PublicRoute(post_job_views_batch),
    PublicRoute(get_recently_viewed),
)
BODY_LIMITS: dict[Callable[..., Any], int] = {
    post_job_views_batch: MAX_BATCH_BODY_BYTES,
    sync_jobs: MAX_FEED_BODY_BYTES,
}
