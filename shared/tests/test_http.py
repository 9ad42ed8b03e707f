"""The HTTP pieces every service shares: probes, body limit, admin auth, error shape."""

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import Depends, FastAPI
from pydantic import BaseModel

from talent_shared.http.auth import AdminOnly, admin_token_matches, require_admin
from talent_shared.http.common import CorrelationId, install_common_http
from talent_shared.settings import ServiceSettings


class Echo(BaseModel):
    text: str


def build_app(*, ready: bool) -> FastAPI:
    app = FastAPI()
    app.state.settings = ServiceSettings(admin_api_token="s3cret")

    async def database() -> bool:
        return ready

    install_common_http(app, service="test", readiness={"database": database})

    @app.post("/echo")
    async def echo(body: Echo) -> Echo:
        return body

    @app.get("/admin", dependencies=[Depends(require_admin)])
    async def admin() -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/correlation")
    async def correlation(correlation_id: CorrelationId) -> dict[str, str]:
        return {"correlation_id": correlation_id}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    return app


async def client_for(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async for c in client_for(build_app(ready=True)):
        yield c


async def test_healthz_is_200(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).status_code == 200


async def test_readyz_is_200_when_every_dependency_answers(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok"}


async def test_readyz_is_503_when_a_dependency_is_down() -> None:
    async for client in client_for(build_app(ready=False)):
        response = await client.get("/readyz")
        assert response.status_code == 503
        assert response.json() == {"database": "unreachable"}


async def test_metrics_are_prometheus_text(client: httpx.AsyncClient) -> None:
    await client.get("/healthz")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'talent_http_requests_total{method="GET",route="/healthz"' in response.text


async def test_declared_oversized_body_is_413(client: httpx.AsyncClient) -> None:
    response = await client.post("/echo", json={"text": "x" * (65 * 1024)})
    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]


async def test_streamed_oversized_body_is_413(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"text": "'
        for _ in range(70):
            yield b"x" * 1024
        yield b'"}'

    response = await client.post("/echo", content=chunks())
    assert response.status_code == 413


async def test_body_at_the_limit_is_accepted(client: httpx.AsyncClient) -> None:
    text = "x" * (64 * 1024 - len('{"text":""}'))
    response = await client.post(
        "/echo",
        content=f'{{"text":"{text}"}}'.encode(),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 200


async def test_invalid_body_is_422_naming_the_field(client: httpx.AsyncClient) -> None:
    response = await client.post("/echo", json={"txt": "hi"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "text"]


async def test_admin_endpoint_without_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/admin")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_admin_endpoint_with_wrong_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/admin", headers={"Authorization": "Bearer s3cret-not"})
    assert response.status_code == 401


async def test_admin_endpoint_with_token_is_200(client: httpx.AsyncClient) -> None:
    response = await client.get("/admin", headers={"Authorization": "Bearer s3cret"})
    assert response.status_code == 200


def test_empty_configured_token_never_matches() -> None:
    assert not admin_token_matches("", "")


async def test_unexpected_error_is_a_json_500_without_internals(client: httpx.AsyncClient) -> None:
    response = await client.get("/boom")
    assert response.status_code == 500
    assert response.json() == {"detail": "internal server error"}


async def test_correlation_id_is_taken_from_the_header(client: httpx.AsyncClient) -> None:
    response = await client.get("/correlation", headers={"X-Correlation-ID": "abc-123"})
    assert response.json()["correlation_id"] == "abc-123"


async def test_correlation_id_is_generated_when_missing(client: httpx.AsyncClient) -> None:
    response = await client.get("/correlation")
    assert len(response.json()["correlation_id"]) == 36


async def test_unreachable_database_is_a_503_with_retry_after() -> None:
    app = build_app(ready=True)

    @app.get("/database-down")
    async def database_down() -> None:
        raise ConnectionRefusedError("connection refused")

    async for client in client_for(app):
        response = await client.get("/database-down")
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert response.json() == {"detail": "temporarily unavailable, retry shortly"}


def test_admin_routes_document_401_and_body_routes_413() -> None:
    from fastapi import APIRouter

    from talent_shared.http.common import document_common_responses

    router = APIRouter()

    @router.post("/things", dependencies=AdminOnly)
    async def create_thing(body: Echo) -> Echo:
        return body

    document_common_responses(router)
    app = FastAPI()
    app.include_router(router)
    responses = app.openapi()["paths"]["/things"]["post"]["responses"]
    assert {"401", "413"} <= set(responses)
