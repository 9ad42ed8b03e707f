from typing import ClassVar

from talent_shared.runtime import Runtime
from talent_signup.settings import SignupSettings


class SignupRuntime(Runtime[SignupSettings]):
    migrations_package: ClassVar[str] = "talent_signup"
    with_outbox: ClassVar[bool] = True
    # No Kafka subscribers: signup only produces (through its outbox).
