from fastapi import FastAPI

from talent_jobs import api, pages
from talent_jobs.runtime import JobsRuntime
from talent_jobs.settings import JobsSettings
from talent_shared.app import create_service_app

DESCRIPTION = """The job catalogue, featured jobs, job-view events and the recently-viewed
projection.

Admin endpoints need `Authorization: Bearer $ADMIN_API_TOKEN`."""


def create_app(settings: JobsSettings | None = None) -> FastAPI:
    return create_service_app(
        JobsRuntime(settings or JobsSettings()),
        description=DESCRIPTION,
        routers=[api.router, pages.router],
        public_routes=api.PUBLIC_ROUTES,
        body_limits=api.BODY_LIMITS,
        errors=api.ERRORS,
    )
