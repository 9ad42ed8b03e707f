"""Sign-ups through the gateway and their welcome emails: a burst of 1,000 from an outside client
(aiohttp), each welcome timed from the sign-up's 201 to its arrival at the bench's SMTP server.

The sign-ups are drawn from the reference data set's spreads, so some want instant alerts (their
matching jobs wait for their first alert) and daily or weekly ones get the matching jobs in an
email at once, beside the welcome. They come from 100 client addresses (127.x.y.z, 10 sign-ups
each): the signup service allows 20 sign-ups a minute per address, and sees the address the
gateway saw.
"""

import asyncio
import random
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import asyncpg

from bench.common import timed_concurrently
from bench.reference_data import preferences_like_ours
from bench.sink import Arrival
from bench.stack import Stack

SIGNUPS = 1_000
CONCURRENCY = 32
ADDRESSES = 100
DOMAIN = "signups.bench.example.org"
_blocks = iter(random.Random().sample(range(1, 255), 254))  # a /16 of 127/8 per burst


def signup_bodies(run: str, count: int) -> list[dict[str, Any]]:
    rng = random.Random("bench sign-ups")
    bodies = []
    for n in range(count):
        preferences = preferences_like_ours(rng)
        bodies.append(
            {
                "email": f"bench-{run}-{n}@{DOMAIN}",
                "first_name": "Bench",
                "last_name": f"Candidate{n}",
                "consent": True,
                "interests": preferences.interests,
                "locations": preferences.locations,
                "keywords": preferences.keywords,
                "alert_frequency": preferences.alert_frequency,
            }
        )
    return bodies


async def sign_up_burst(url: str, bodies: Sequence[dict[str, Any]]) -> dict[str, float]:
    """POST every sign-up, ``CONCURRENCY`` at a time; email -> time of its 201 (epoch s)."""
    block = next(_blocks)
    addresses = [f"127.{block}.{n // 256}.{n % 256 or 1}" for n in range(ADDRESSES)]
    timeout = aiohttp.ClientTimeout(total=60)
    # aiohttp, not httpx: httpx's pool cost about 2.7 ms of CPU a request at this concurrency
    # (aiohttp 0.17), on the cores the services need.
    clients = [
        aiohttp.ClientSession(
            url, timeout=timeout, connector=aiohttp.TCPConnector(local_addr=(address, 0))
        )
        for address in addresses
    ]
    answered: dict[str, float] = {}

    async def sign_up(n: int) -> None:
        client = clients[n % ADDRESSES]
        async with client.post("/v1/signups", json=bodies[n]) as response:
            if response.status != 201:
                sys.exit(f"bench: sign-up answered {response.status}: {await response.text()}")
            await response.read()
        answered[bodies[n]["email"]] = time.time()

    try:
        await timed_concurrently(len(bodies), CONCURRENCY, sign_up)
    finally:
        await asyncio.gather(*(client.close() for client in clients))
    return answered


@dataclass(frozen=True)
class Welcomes:
    """When each sign-up's welcome arrived, and what else the sink got meanwhile."""

    arrived: dict[str, float]  # email -> epoch seconds
    other_emails: int  # alerts of the same sign-ups, or of other matches
    duplicates: int  # a delivery arriving twice, or a second welcome to an address


async def wait_for_welcomes(stack: Stack, emails: Sequence[str], timeout: float) -> Welcomes:
    deadline = time.monotonic() + timeout
    welcome_of: dict[uuid.UUID, str] = {}
    notifications = await asyncpg.connect(stack.databases.notifications)
    try:
        while time.monotonic() < deadline:
            if len(welcome_of) < len(emails):
                welcome_of = await _welcome_deliveries(notifications, emails)
            arrivals = stack.sink.arrivals(stack.mail_domain)
            arrived = {
                welcome_of[a.delivery_id]: a.at for a in arrivals if a.delivery_id in welcome_of
            }
            if len(arrived) == len(emails):
                return _welcomes(arrived, arrivals, welcome_of)
            await asyncio.sleep(0.25)
    finally:
        await notifications.close()
    sys.exit(f"bench: welcome emails missing after {timeout:.0f} s")


def _welcomes(
    arrived: dict[str, float], arrivals: list[Arrival], welcome_of: dict[uuid.UUID, str]
) -> Welcomes:
    last = max(arrived.values())
    others = {a.delivery_id for a in arrivals if a.delivery_id not in welcome_of and a.at <= last}
    repeated = len(arrivals) - len({a.delivery_id for a in arrivals})
    second_welcomes = len(welcome_of) - len(set(welcome_of.values()))
    return Welcomes(arrived, other_emails=len(others), duplicates=repeated + second_welcomes)


async def _welcome_deliveries(
    notifications: asyncpg.Connection, emails: Sequence[str]
) -> dict[uuid.UUID, str]:
    rows = await notifications.fetch(
        """SELECT delivery_id, to_address FROM deliveries
           WHERE kind = 'welcome' AND lower(to_address) = ANY($1::text[])""",
        [email.lower() for email in emails],
    )
    return {row["delivery_id"]: row["to_address"] for row in rows}
