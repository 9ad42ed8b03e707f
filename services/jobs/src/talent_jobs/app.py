from fastapi import FastAPI

from talent_jobs import api, handlers
from talent_jobs.settings import JobsSettings
from talent_shared.runtime import create_service_app

DESCRIPTION = """The job catalogue, featured jobs, job-view events and the recently-viewed
projection.

Admin endpoints need `Authorization: Bearer $ADMIN_API_TOKEN`."""


def create_app(settings: JobsSettings | None = None) -> FastAPI:
    return create_service_app(
        settings or JobsSettings(),
        description=DESCRIPTION,
        migrations_package="talent_jobs",
        routers=[api.router],
        register_subscribers=handlers.register_subscribers,
        with_outbox=True,
    )
