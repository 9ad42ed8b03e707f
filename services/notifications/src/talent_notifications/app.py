from fastapi import FastAPI

from talent_notifications import api
from talent_notifications.runtime import NotificationsRuntime
from talent_notifications.settings import NotificationsSettings
from talent_shared.app import create_service_app

DESCRIPTION = """Welcome, job-alert and digest emails, and the delivery log."""


def create_app(settings: NotificationsSettings | None = None) -> FastAPI:
    return create_service_app(
        NotificationsRuntime(settings or NotificationsSettings()),
        description=DESCRIPTION,
        routers=[api.router],
        body_limits=api.BODY_LIMITS,
    )
