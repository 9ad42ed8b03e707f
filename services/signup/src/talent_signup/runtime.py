from contextlib import AsyncExitStack
from typing import ClassVar

from talent_shared.background import BackgroundLoop
from talent_shared.runtime import Runtime
from talent_signup import handlers, service
from talent_signup.settings import SignupSettings

EXPIRED_PENDING_BATCH = 100


class SignupRuntime(Runtime[SignupSettings]):
    migrations_package: ClassVar[str] = "talent_signup"
    with_outbox: ClassVar[bool] = True
    housekeeping: BackgroundLoop

    def register_subscribers(self) -> None:
        handlers.register_subscribers(self)  # no subscribers: only the topic it publishes to

    async def on_started(self, stack: AsyncExitStack) -> None:
        self.housekeeping = BackgroundLoop(
            "signup-housekeeping",
            self.keep_house,
            interval_seconds=self.settings.signup_housekeeping_seconds,
        )
        self.housekeeping.start()
        stack.push_async_callback(self.housekeeping.stop)

    async def keep_house(self) -> bool:
        """Prune ended rate-limit windows and erase expired pending sign-ups; True when a full
        batch was erased (more may be waiting)."""
        await service.prune_rate_limits(pool=self.pool)
        erased = await service.erase_expired_pending(
            pool=self.pool,
            relay=self.relay,
            secret=self.settings.token_secret.get_secret_value(),
            max_age_seconds=self.settings.signup_pending_max_age_seconds,
            limit=EXPIRED_PENDING_BATCH,
        )
        return erased == EXPIRED_PENDING_BATCH
