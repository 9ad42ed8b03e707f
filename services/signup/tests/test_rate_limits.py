"""Sign-up rate limits per client address and per email, on the real PostgreSQL and broker:
counters shared by replicas, X-Forwarded-For honoured only from TRUSTED_PROXIES."""

import asyncio
import ipaddress
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import asyncpg
import httpx
import pytest
from pydantic import ValidationError

from services.signup.tests.helpers import new_email, signup_body
from talent_shared.db import create_pool
from talent_signup import rate_limits
from talent_signup.app import create_app
from talent_signup.settings import SignupSettings
from tests.support.fixtures import settings_for_test

GATEWAY = "10.0.0.1"
# Day windows: a test never straddles the end of one (a minute window could).
LIMITS = {
    "signup_rate_per_ip": "3/day",
    "signup_rate_per_email": "2/day",
    "trusted_proxies": GATEWAY,
}


@asynccontextmanager
async def replica(database_url: str, peer: str) -> AsyncIterator[httpx.AsyncClient]:
    """A signup service whose requests all come from ``peer`` (the direct TCP client)."""
    app = create_app(settings_for_test(SignupSettings, database_url, **LIMITS))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(peer, 4321))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


@pytest.fixture(scope="module")
async def replicas(signup_database: str) -> AsyncIterator[tuple[httpx.AsyncClient, ...]]:
    """Two replicas on one database, both behind the gateway, and one reached directly from an
    untrusted peer."""
    async with AsyncExitStack() as stack:
        yield (
            await stack.enter_async_context(replica(signup_database, GATEWAY)),
            await stack.enter_async_context(replica(signup_database, GATEWAY)),
            await stack.enter_async_context(replica(signup_database, "203.0.113.9")),
        )


def client_ip() -> str:
    """A client address of its own per test: limits are counted per address."""
    value = uuid.uuid4().int
    return f"198.{value % 256}.{value // 256 % 256}.{value // 65536 % 254 + 1}"


def via_gateway(ip: str) -> dict[str, str]:
    return {"X-Forwarded-For": ip}


async def count(database_url: str, sql: str, *args: object) -> int:
    connection = await asyncpg.connect(database_url)
    try:
        return int(await connection.fetchval(sql, *args))
    finally:
        await connection.close()


@pytest.mark.parametrize(
    ("text", "limit"),
    [
        ("20/minute", rate_limits.RateLimit(20, 60)),
        ("5/hour", rate_limits.RateLimit(5, 3600)),
        ("1/second", rate_limits.RateLimit(1, 1)),
        (" 7 / day ", rate_limits.RateLimit(7, 86400)),
    ],
)
def test_rate_setting_is_n_per_unit(text: str, limit: rate_limits.RateLimit) -> None:
    assert rate_limits.parse_rate_limit(text) == limit


@pytest.mark.parametrize("text", ["", "20", "0/minute", "-1/hour", "20/minutes", "5/week", "x/day"])
def test_bad_rate_setting_stops_the_service_at_start(text: str) -> None:
    with pytest.raises(ValidationError, match="N/second, N/minute, N/hour or N/day"):
        SignupSettings(signup_rate_per_ip=text)


def test_bad_trusted_proxy_stops_the_service_at_start() -> None:
    with pytest.raises(ValidationError, match="TRUSTED_PROXIES entry 'gateway'"):
        SignupSettings(trusted_proxies="10.0.0.0/8,gateway")


def test_defaults_are_the_contracts() -> None:
    settings = SignupSettings()
    assert str(settings.signup_rate_per_ip) == "20/minute"
    assert str(settings.signup_rate_per_email) == "5/hour"
    assert settings.signup_double_opt_in is False


async def test_limit_per_address_holds_across_replicas(
    replicas: tuple[httpx.AsyncClient, ...],
) -> None:
    first, second, _ = replicas
    ip = client_ip()
    statuses = [
        (await replica.post("/v1/signups", json=signup_body(), headers=via_gateway(ip))).status_code
        for replica in (first, second, first, second)
    ]
    assert statuses == [201, 201, 201, 429]


async def test_limit_per_address_holds_for_concurrent_sign_ups_on_two_replicas(
    replicas: tuple[httpx.AsyncClient, ...],
) -> None:
    """The count and the sign-up share one transaction: ten sign-ups from one address at the
    same moment, on two replicas, wait on the address's window row in turn (no deadlock) and
    exactly the limit get through."""
    first, second, _ = replicas
    ip = client_ip()
    responses = await asyncio.gather(
        *(
            replica.post("/v1/signups", json=signup_body(), headers=via_gateway(ip))
            for replica in (first, second) * 5
        )
    )
    assert sorted(response.status_code for response in responses) == [201] * 3 + [429] * 7


async def test_over_the_limit_is_429_with_retry_after(
    replicas: tuple[httpx.AsyncClient, ...],
) -> None:
    first, _, _ = replicas
    ip = client_ip()
    for _ in range(3):
        await first.post("/v1/signups", json=signup_body(), headers=via_gateway(ip))
    refused = await first.post("/v1/signups", json=signup_body(), headers=via_gateway(ip))
    assert refused.status_code == 429
    assert "too many" in refused.json()["detail"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 86400


async def test_refused_sign_up_writes_no_candidate_and_no_event(
    replicas: tuple[httpx.AsyncClient, ...], signup_database: str
) -> None:
    first, _, _ = replicas
    ip = client_ip()
    for _ in range(3):
        await first.post("/v1/signups", json=signup_body(), headers=via_gateway(ip))
    email = new_email()
    refused = await first.post(
        "/v1/signups", json=signup_body(email=email), headers=via_gateway(ip)
    )
    assert refused.status_code == 429
    assert (
        await count(signup_database, "SELECT count(*) FROM candidates WHERE email = $1", email) == 0
    )
    # No event, so no email can ever be sent for it: events only leave through the outbox.
    outbox = "SELECT count(*) FROM outbox WHERE convert_from(payload, 'UTF8') LIKE '%' || $1 || '%'"
    assert await count(signup_database, outbox, email) == 0


async def test_refused_sign_up_is_still_counted(
    replicas: tuple[httpx.AsyncClient, ...], signup_database: str
) -> None:
    first, _, _ = replicas
    ip = client_ip()
    for _ in range(4):
        await first.post("/v1/signups", json=signup_body(), headers=via_gateway(ip))
    hits = "SELECT hits FROM rate_limit_windows WHERE scope = 'ip' AND key = $1"
    assert await count(signup_database, hits, ip) == 4


async def test_limit_per_email_holds_across_addresses_and_cases(
    replicas: tuple[httpx.AsyncClient, ...],
) -> None:
    first, second, _ = replicas
    email = new_email()
    spellings = [email, email.upper(), f" {email} "]
    statuses = [
        (
            await replica.post(
                "/v1/signups", json=signup_body(email=spelling), headers=via_gateway(client_ip())
            )
        ).status_code
        for replica, spelling in zip((first, second, first), spellings, strict=True)
    ]
    assert statuses == [201, 200, 429]


async def test_limit_per_email_counts_an_address_without_its_plus_tag(
    replicas: tuple[httpx.AsyncClient, ...],
) -> None:
    first, _, _ = replicas
    local, domain = new_email().split("@")
    statuses = [
        (
            await first.post(
                "/v1/signups",
                json=signup_body(email=f"{local}+{tag}@{domain}"),
                headers=via_gateway(client_ip()),
            )
        ).status_code
        for tag in ("1", "Jobs", "7")
    ]
    assert statuses == [201, 201, 429]  # one mailbox: two a day


def ipv6_network() -> ipaddress.IPv6Network:
    """A random /64 of the documentation range."""
    value = uuid.uuid4().int
    return ipaddress.IPv6Network(f"2001:db8:{value % 65536:x}:{value // 65536 % 65536:x}::/64")


async def test_ipv6_clients_are_counted_per_64(
    replicas: tuple[httpx.AsyncClient, ...],
) -> None:
    first, _, _ = replicas
    network = ipv6_network()
    statuses = [
        (
            await first.post(
                "/v1/signups", json=signup_body(), headers=via_gateway(str(network[host]))
            )
        ).status_code
        for host in (1, 0xBEEF, 0xFFFF_FFFF, 0x1234_5678_9ABC)
    ]
    assert statuses == [201, 201, 201, 429]  # every address of a /64 is one client
    elsewhere = await first.post(
        "/v1/signups", json=signup_body(), headers=via_gateway(str(ipv6_network()[1]))
    )
    assert elsewhere.status_code == 201


@pytest.mark.parametrize(
    ("address", "client"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
    ],
)
def test_the_client_an_address_counts_as(address: str, client: str) -> None:
    assert rate_limits.client_key(address) == client


def test_the_per_email_key_ignores_plus_tags_and_case() -> None:
    keys = {
        rate_limits.email_key(email, secret="s")
        for email in ("carol@example.org", "Carol+1@example.org", "carol+jobs@EXAMPLE.org")
    }
    assert len(keys) == 1


async def test_email_counter_keeps_no_readable_address(
    replicas: tuple[httpx.AsyncClient, ...], signup_database: str
) -> None:
    first, _, _ = replicas
    email = new_email()
    await first.post("/v1/signups", json=signup_body(email=email), headers=via_gateway(client_ip()))
    keys = "SELECT count(*) FROM rate_limit_windows WHERE key ILIKE '%' || $1 || '%'"
    assert await count(signup_database, keys, email.split("@")[0]) == 0


async def test_forged_forwarded_for_from_an_untrusted_peer_is_ignored(
    replicas: tuple[httpx.AsyncClient, ...],
) -> None:
    _, _, direct = replicas
    statuses = [
        (
            await direct.post("/v1/signups", json=signup_body(), headers=via_gateway(client_ip()))
        ).status_code
        for _ in range(4)
    ]
    # Four "different" clients, all counted as the peer itself.
    assert statuses == [201, 201, 201, 429]


async def test_clients_behind_the_gateway_are_counted_apart(
    replicas: tuple[httpx.AsyncClient, ...],
) -> None:
    first, _, _ = replicas
    statuses = [
        (
            await first.post("/v1/signups", json=signup_body(), headers=via_gateway(client_ip()))
        ).status_code
        for _ in range(5)
    ]
    assert statuses == [201] * 5


async def test_ended_windows_are_pruned(
    replicas: tuple[httpx.AsyncClient, ...], signup_database: str
) -> None:
    first, _, _ = replicas
    await first.post("/v1/signups", json=signup_body(), headers=via_gateway(client_ip()))
    pool = await create_pool(signup_database, max_size=1)
    try:
        async with pool.acquire() as connection:
            far_future = await connection.fetchval("SELECT now() + interval '2 days'")
            await rate_limits.prune(connection, before=far_future)
            assert await connection.fetchval("SELECT count(*) FROM rate_limit_windows") == 0
    finally:
        await pool.close()


def test_rates_and_proxies_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNUP_RATE_PER_IP", "3/hour")
    monkeypatch.setenv("SIGNUP_RATE_PER_EMAIL", "1/day")
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.0/8, ::1")
    settings = SignupSettings()
    assert settings.signup_rate_per_ip == rate_limits.RateLimit(3, 3600)
    assert settings.signup_rate_per_email == rate_limits.RateLimit(1, 86400)
    assert settings.trusted_proxies == ("10.0.0.0/8", "::1")
