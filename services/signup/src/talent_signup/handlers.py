"""The signup service consumes no topic; it publishes candidate events through its outbox,
declared here for the AsyncAPI document."""

from typing import TYPE_CHECKING

from talent_shared.asyncapi import declare_publishers
from talent_shared.events import CANDIDATES_TOPIC

if TYPE_CHECKING:
    from talent_signup.runtime import SignupRuntime


def register_subscribers(runtime: "SignupRuntime") -> None:
    declare_publishers(runtime.broker, [CANDIDATES_TOPIC], how="through the transactional outbox")
