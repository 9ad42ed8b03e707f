from fastapi import FastAPI

from talent_notifications import api
from talent_notifications.runtime import NotificationsRuntime
from talent_notifications.settings import NotificationsSettings
from talent_shared.app import ServiceApi, create_service_app

API = ServiceApi(
    description="Welcome, job-alert and digest emails, and the delivery log.",
    routers=api.ROUTERS,
    body_limits=api.BODY_LIMITS,
)


def create_app(settings: NotificationsSettings | None = None) -> FastAPI:
    return create_service_app(NotificationsRuntime(settings or NotificationsSettings()), API)
