"""Fixed-window rate limits kept in the signup database, so every replica counts the same hits.

One row per (scope, key, window): each request increments its rows in one atomic upsert and is
refused when a count passes its limit. Old windows are pruned by the housekeeping loop.
"""

import hashlib
import hmac
import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime

from talent_shared.db import Connection

PERIOD_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_RATE = re.compile(r"^\s*([1-9][0-9]{0,8})\s*/\s*(second|minute|hour|day)\s*$")


@dataclass(frozen=True)
class RateLimit:
    limit: int
    period_seconds: int

    def __str__(self) -> str:
        unit = next(name for name, size in PERIOD_SECONDS.items() if size == self.period_seconds)
        return f"{self.limit}/{unit}"


def parse_rate_limit(value: object) -> RateLimit:
    """``"20/minute"`` -> RateLimit(20, 60); anything else stops the service at start."""
    if isinstance(value, RateLimit):
        return value
    match = _RATE.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(
            f"rate limit {value!r} is not N/second, N/minute, N/hour or N/day (N >= 1)"
        )
    return RateLimit(int(match.group(1)), PERIOD_SECONDS[match.group(2)])


@dataclass(frozen=True)
class Counter:
    scope: str
    key: str
    rate: RateLimit


def email_key(email: str, *, secret: str) -> str:
    """A keyed hash of the address without its ``+tag`` and case (``Carol+7@x`` counts as
    ``carol@x``, one mailbox): counts it without keeping it readable."""
    local_part, _, domain = email.lower().rpartition("@")
    mailbox = f"{local_part.split('+', 1)[0]}@{domain}"
    return hmac.new(f"rate-limit:{secret}".encode(), mailbox.encode(), hashlib.sha256).hexdigest()


def client_key(address: str) -> str:
    """The client an address counts as: itself for IPv4, its /64 for IPv6 (one subscriber's
    network hands out a whole /64, so counting single addresses would count nothing)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address  # not an IP (a test client's name): counted as it is
    if isinstance(ip, ipaddress.IPv4Address):
        return str(ip)
    if ip.ipv4_mapped is not None:  # ::ffff:a.b.c.d, an IPv4 client of a dual-stack socket
        return str(ip.ipv4_mapped)
    return str(ipaddress.IPv6Network((ip, 64), strict=False))


async def hit(connection: Connection, counters: list[Counter]) -> int | None:
    """Count one request against every counter; ``None`` when all are within their limits, else
    the seconds until the last exceeded window ends (the Retry-After)."""
    rows = await connection.fetch(
        """WITH now AS (SELECT extract(epoch FROM clock_timestamp()) AS epoch),
                hits AS (
                    SELECT scope, key, period,
                           to_timestamp(floor(now.epoch / period) * period) AS window_start
                    FROM unnest($1::text[], $2::text[], $3::int[]) AS h(scope, key, period), now
                )
           INSERT INTO rate_limit_windows AS w (scope, key, window_start, window_end, hits)
           SELECT scope, key, window_start, window_start + make_interval(secs => period), 1
           FROM hits ORDER BY scope, key
           ON CONFLICT (scope, key, window_start) DO UPDATE SET hits = w.hits + 1
           RETURNING scope, hits,
                     ceil(extract(epoch FROM window_end - clock_timestamp()))::int AS seconds_left
        """,
        [counter.scope for counter in counters],
        [counter.key for counter in counters],
        [counter.rate.period_seconds for counter in counters],
    )
    limits = {counter.scope: counter.rate.limit for counter in counters}
    exceeded = [row["seconds_left"] for row in rows if row["hits"] > limits[row["scope"]]]
    return max(1, *exceeded) if exceeded else None


async def prune(connection: Connection, *, before: datetime | None = None) -> int:
    """Drop windows that have ended; returns how many."""
    result = await connection.execute(
        "DELETE FROM rate_limit_windows WHERE window_end < coalesce($1, clock_timestamp())",
        before,
    )
    return int(result.split()[-1])
