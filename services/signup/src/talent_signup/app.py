from fastapi import FastAPI

from talent_shared.app import create_service_app
from talent_signup import api
from talent_signup.runtime import SignupRuntime
from talent_signup.settings import SignupSettings

DESCRIPTION = """Talent Network sign-ups: candidates, their alert preferences, consent,
unsubscribe and erasure."""


def create_app(settings: SignupSettings | None = None) -> FastAPI:
    return create_service_app(
        SignupRuntime(settings or SignupSettings()),
        description=DESCRIPTION,
        routers=[api.router],
        public_routes=api.PUBLIC_ROUTES,
        errors=api.ERRORS,
    )
