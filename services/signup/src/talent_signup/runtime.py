from typing import ClassVar

from talent_shared.runtime import Runtime
from talent_signup import handlers


class SignupRuntime(Runtime):
    migrations_package: ClassVar[str] = "talent_signup"
    with_outbox: ClassVar[bool] = True

    def register_subscribers(self) -> None:
        handlers.register_subscribers(self)
