from fastapi import FastAPI

from talent_shared.app import ServiceApi, create_service_app
from talent_signup import api
from talent_signup.runtime import SignupRuntime
from talent_signup.settings import SignupSettings

API = ServiceApi(
    description="""Talent Network sign-ups: candidates, their alert preferences, consent,
unsubscribe and erasure.""",
    routers=api.ROUTERS,
    public_routes=api.PUBLIC_ROUTES,
    errors=api.ERRORS,
)


def create_app(settings: SignupSettings | None = None) -> FastAPI:
    return create_service_app(SignupRuntime(settings or SignupSettings()), API)
