"""The per-address sign-up limit behind the public origin, as `make up` runs it: the real signup
service as a process behind the real nginx gateway. Each visitor is counted as the address the
gateway saw, not as the gateway, and not as whatever the visitor claims."""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from deploy.local.gateway import Gateway
from devsupport.databases import fresh_database
from devsupport.ports import free_port
from devsupport.services import start_service
from services.signup.tests.helpers import signup_body

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def gateway(
    infrastructure: None, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Gateway]:
    logs = tmp_path_factory.mktemp("behind-the-gateway")
    async with fresh_database("behind_gateway") as database:
        signup = start_service("signup", database, logs, SIGNUP_RATE_PER_IP="3/day")
        try:
            await asyncio.to_thread(signup.wait_ready)
            running = Gateway(
                port=free_port(),
                state_dir=logs,
                # Only signup answers: jobs and notifications are down (nothing listens there).
                service_ports={
                    "signup": signup.port,
                    "jobs": free_port(),
                    "notifications": free_port(),
                },
            )
            running.start()
            try:
                yield running
            finally:
                running.stop()
        finally:
            signup.kill()


def sign_ups(gateway: Gateway, source: str, count: int, **headers: str) -> list[int]:
    with httpx.Client(transport=httpx.HTTPTransport(local_address=source), timeout=10) as client:
        return [
            client.post(
                f"{gateway.url}/v1/signups", json=signup_body(), headers=headers
            ).status_code
            for _ in range(count)
        ]


def test_each_visitor_behind_the_gateway_has_a_limit_of_its_own(gateway: Gateway) -> None:
    assert sign_ups(gateway, "127.0.0.3", 4) == [201, 201, 201, 429]
    assert sign_ups(gateway, "127.0.0.4", 1) == [201]


def test_a_visitor_cannot_choose_the_address_it_is_counted_as(gateway: Gateway) -> None:
    spoofed = [
        sign_ups(gateway, "127.0.0.5", 1, **{"X-Forwarded-For": f"203.0.113.{n}"})[0]
        for n in range(4)
    ]
    assert spoofed == [201, 201, 201, 429]
