"""The infrastructure as a whole: Kafka, PostgreSQL and the mail sink, started, stopped, crashed
(for the fault tests) and reported together or part by part. Start and stop are idempotent."""

from typing import Protocol

from deploy.local.config import Config, RunnerError
from deploy.local.daemons import exclusive
from deploy.local.kafka_broker import Kafka
from deploy.local.postgres import Postgres
from deploy.local.smtp import Smtp


class Part(Protocol):
    @property
    def name(self) -> str: ...

    def launch(self) -> None:
        """Start it unless it runs; it may answer only later."""

    def wait_ready(self) -> None:
        """Return once it answers; fail, saying why, when it does not."""

    def stop(self) -> None: ...

    def kill(self) -> None:
        """A crash on purpose."""

    def status(self) -> str: ...


PART_NAMES = ("kafka", "postgres", "smtp")


def parts(config: Config, names: list[str]) -> list[Part]:
    """The parts named (all when none is), in the order they start."""
    unknown = sorted(set(names) - set(PART_NAMES))
    if unknown:
        raise RunnerError(f"unknown part {', '.join(unknown)} (expected: {', '.join(PART_NAMES)})")
    everything: list[Part] = [Kafka(config), Postgres(config), Smtp(config)]
    return [part for part in everything if part.name in (names or PART_NAMES)]


def start(config: Config, names: list[str]) -> None:
    # Kafka's JVM takes longest: it is launched first and waited for last.
    with exclusive(config.local / ".infra.lock"):
        chosen = parts(config, names)
        for part in chosen:
            part.launch()
        for part in chosen:
            part.wait_ready()


def stop(config: Config, names: list[str]) -> None:
    with exclusive(config.local / ".infra.lock"):
        for part in reversed(parts(config, names)):
            part.stop()


def kill(config: Config, names: list[str]) -> None:
    if not names:
        raise RunnerError(f"kill needs a part: {'|'.join(PART_NAMES)}")
    with exclusive(config.local / ".infra.lock"):
        for part in parts(config, names):
            part.kill()


def status(config: Config) -> list[str]:
    return [f"{part.name + ':':<9} {part.status()}" for part in parts(config, [])]
