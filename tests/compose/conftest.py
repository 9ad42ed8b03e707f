"""Fixtures of the compose end-to-end tests: HTTP clients to the running stack."""

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.compose.stack import (
    APP_PORTS,
    ENV_FILE,
    GATEWAY_PORT,
    MAIL_UI_PORT,
    ComposeStack,
    env_value,
    published_url,
)


@pytest.fixture(scope="module")
async def compose_stack() -> AsyncIterator[ComposeStack]:
    if not ENV_FILE.exists():
        pytest.fail(f"{ENV_FILE} missing: run `make compose-up` first")
    urls = {name: published_url(name, port) for name, port in APP_PORTS.items()}
    urls["mail"] = published_url("mailpit", MAIL_UI_PORT)
    urls["gateway"] = published_url("gateway", GATEWAY_PORT)
    clients = {name: httpx.AsyncClient(base_url=url, timeout=10) for name, url in urls.items()}
    try:
        yield ComposeStack(
            **clients,
            admin_headers={"Authorization": f"Bearer {env_value('ADMIN_API_TOKEN')}"},
        )
    finally:
        for client in clients.values():
            await client.aclose()
