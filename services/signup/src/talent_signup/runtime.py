from typing import ClassVar

from talent_shared.runtime import Runtime
from talent_signup import handlers
from talent_signup.settings import SignupSettings


class SignupRuntime(Runtime[SignupSettings]):
    migrations_package: ClassVar[str] = "talent_signup"
    with_outbox: ClassVar[bool] = True

    def register_subscribers(self) -> None:
        handlers.register_subscribers(self)  # no subscribers: only the topic it publishes to
