from fastapi import FastAPI

from talent_jobs import api, pages
from talent_jobs.runtime import JobsRuntime
from talent_jobs.settings import JobsSettings
from talent_shared.app import ServiceApi, create_service_app

API = ServiceApi(
    description="""The job catalogue, featured jobs, job-view events and the recently-viewed
projection.

Admin endpoints need `Authorization: Bearer $ADMIN_API_TOKEN`.""",
    routers=[*api.ROUTERS, pages.router],
    public_routes=api.PUBLIC_ROUTES,
    body_limits=api.BODY_LIMITS,
    errors=api.ERRORS,
)


def create_app(settings: JobsSettings | None = None) -> FastAPI:
    return create_service_app(JobsRuntime(settings or JobsSettings()), API)
