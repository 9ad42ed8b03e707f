from typing import ClassVar

from talent_shared.runtime import Runtime
from talent_signup import handlers
from talent_signup.settings import SignupSettings


class SignupRuntime(Runtime):
    migrations_package: ClassVar[str] = "talent_signup"
    with_outbox: ClassVar[bool] = True

    def __init__(self, settings: SignupSettings) -> None:
        self.signup_settings = settings
        super().__init__(settings)

    def register_subscribers(self) -> None:
        handlers.register_subscribers(self)
