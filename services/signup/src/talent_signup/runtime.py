from collections.abc import Mapping
from typing import ClassVar

from talent_shared.background import BackgroundLoop
from talent_shared.events import CANDIDATES_TOPIC
from talent_shared.runtime import Runtime
from talent_signup import handlers, service
from talent_signup.settings import SignupSettings

EXPIRED_PENDING_BATCH = 100


class SignupRuntime(Runtime[SignupSettings]):
    migrations_package: ClassVar[str] = "talent_signup"
    with_outbox: ClassVar[bool] = True
    publishes: ClassVar[Mapping[str, str]] = {CANDIDATES_TOPIC: "through the transactional outbox"}

    def __init__(self, settings: SignupSettings) -> None:
        super().__init__(settings)
        self.run_alongside(
            BackgroundLoop(
                "signup-housekeeping",
                self.keep_house,
                interval_seconds=settings.signup_housekeeping_seconds,
            )
        )
        handlers.subscribe_all(self.broker, settings, relay=self.relay)

    async def keep_house(self) -> bool:
        """Prune ended rate-limit windows and erase expired pending sign-ups; True when a full
        batch was erased (more may be waiting)."""
        await service.prune_rate_limits(pool=self.pool)
        erased = await service.erase_expired_pending(
            self.relay,
            secret=self.settings.token_secret.get_secret_value(),
            max_age_seconds=self.settings.signup_pending_max_age_seconds,
            limit=EXPIRED_PENDING_BATCH,
        )
        return erased == EXPIRED_PENDING_BATCH
