"""Every Kafka subscriber of the signup service, registered in this one place."""

from collections.abc import Sequence

from faststream.kafka import KafkaBroker

from talent_shared.consumers import EventRouter
from talent_shared.envelope import Event
from talent_shared.events import FEEDBACK_TOPIC, ComplaintReceived
from talent_shared.kafka import subscribe
from talent_shared.outbox import OutboxRelay
from talent_signup import service
from talent_signup.settings import SignupSettings

COMPLAINTS = "complaints"


# The handlers' context: complaints unsubscribe, and that change goes out through the outbox.
feedback_events = EventRouter[OutboxRelay]()


@feedback_events.on(ComplaintReceived)
async def unsubscribe_who_complained(
    relay: OutboxRelay, events: Sequence[Event[ComplaintReceived]]
) -> None:
    """A candidate marked one of our emails as spam: they get nothing more (idempotent, so a
    redelivered complaint changes nothing)."""
    for event in events:
        await service.unsubscribe(relay, event.data.candidate_id, event.envelope.correlation_id)


def subscribe_all(broker: KafkaBroker, settings: SignupSettings, *, relay: OutboxRelay) -> None:
    subscribe(
        broker,
        settings,
        topic=FEEDBACK_TOPIC,
        name=COMPLAINTS,
        handler=feedback_events.handler(relay),
    )
