"""Every Kafka subscriber of the notifications service is registered here (none yet)."""

from talent_shared.runtime import Runtime


def register_subscribers(runtime: Runtime) -> None:
    del runtime
