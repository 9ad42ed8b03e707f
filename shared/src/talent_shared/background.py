"""A background loop: run a unit of work again and again, sooner when woken, stop cleanly.

The outbox relay, the delivery worker and the email schedulers are all this shape: each is a
BackgroundLoop of its own, passing its unit of work up. ``work`` returns True when it should run
again at once (a full batch), False to wait for the interval or a ``wake()``.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from talent_shared.logging import get_logger

log = get_logger(__name__)


class BackgroundLoop:
    def __init__(
        self,
        name: str,
        work: Callable[[], Awaitable[bool]],
        *,
        interval_seconds: float,
        stop_timeout_seconds: float = 15.0,
    ) -> None:
        self._name = name
        self._work = work
        self._interval = interval_seconds
        self._stop_timeout = stop_timeout_seconds
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self._name)

    def wake(self) -> None:
        """Run again soon (say, after committing rows the work will pick up)."""
        self._wake.set()

    async def stop(self) -> None:
        """Let the unit of work in progress finish (within a bound), then stop."""
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), self._stop_timeout)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while not self._stopping:
            try:
                again = await self._work()
            except Exception:  # a dependency is down: keep the loop alive, try again later
                log.exception("background work failed", loop=self._name)
                again = False
            if not again and not self._stopping:
                # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._interval):
                        await self._wake.wait()
            self._wake.clear()
