"""HTTP routes of the jobs service: thin, they validate, call ``service`` and map errors."""

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Path, Query, status

from talent_jobs import service
from talent_jobs.models import Job, JobCreate, JobViewAccepted, JobViewIn, RecentlyViewed, VisitorId
from talent_shared.http import AdminOnly, CorrelationId
from talent_shared.kafka import PublishFailedError
from talent_shared.runtime import RuntimeDep

router = APIRouter(prefix="/v1")

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no job with this id"}}


def _job_not_found(job_id: UUID) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"job {job_id} not found")


@router.post(
    "/jobs",
    status_code=status.HTTP_201_CREATED,
    dependencies=[AdminOnly],
    tags=["jobs"],
    responses={409: {"description": "requisition_id already used"}},
)
async def create_job(new: JobCreate, runtime: RuntimeDep, correlation_id: CorrelationId) -> Job:
    """Post a job (admin); emits `JobPosted` through the outbox."""
    try:
        return await service.create_job(
            pool=runtime.pool, relay=runtime.relay, new=new, correlation_id=correlation_id
        )
    except service.DuplicateRequisitionError as error:
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"requisition_id {error} is already used by another job"
        ) from error


@router.get("/jobs/{job_id}", tags=["jobs"], responses=NOT_FOUND)
async def get_job(job_id: UUID, runtime: RuntimeDep) -> Job:
    """One job, closed ones included (see `status`)."""
    try:
        return await service.get_job(pool=runtime.pool, job_id=job_id)
    except service.JobNotFoundError as error:
        raise _job_not_found(job_id) from error


@router.post(
    "/job-views",
    status_code=status.HTTP_202_ACCEPTED,
    tags=["recently viewed"],
    responses={
        **NOT_FOUND,
        503: {"description": "Kafka did not take the event; retry later"},
    },
)
async def post_job_view(
    view: JobViewIn, runtime: RuntimeDep, correlation_id: CorrelationId
) -> JobViewAccepted:
    """Record that a visitor viewed a job. A 202 means the event is durably in Kafka."""
    settings = runtime.settings
    try:
        event_id = await service.record_job_view(
            pool=runtime.pool,
            broker=runtime.broker,
            view=view,
            correlation_id=correlation_id,
            timeout=settings.kafka_publish_timeout_seconds,
        )
    except service.JobNotFoundError as error:
        raise _job_not_found(view.job_id) from error
    except PublishFailedError as error:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "the job view could not be recorded right now; retry shortly",
            headers={"Retry-After": "1"},
        ) from error
    return JobViewAccepted(event_id=event_id)


@router.get("/visitors/{visitor_id}/recently-viewed", tags=["recently viewed"])
async def get_recently_viewed(
    visitor_id: Annotated[VisitorId, Path()],
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> RecentlyViewed:
    """Distinct open jobs the visitor viewed, most recent first; an unknown visitor has none."""
    return await service.recently_viewed(pool=runtime.pool, visitor_id=visitor_id, limit=limit)
