"""pytest fixtures shared by every test folder (loaded by the root conftest.py)."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

import httpx
import pytest
from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from devsupport.databases import fresh_database
from devsupport.infra import require_infrastructure
from talent_jobs.app import create_app as create_jobs_app
from talent_jobs.settings import JobsSettings
from talent_notifications.app import create_app as create_notifications_app
from talent_notifications.runtime import NotificationsRuntime
from talent_notifications.settings import NotificationsSettings
from talent_shared.db import Pool, apply_migrations, create_pool, shared_migrations
from talent_shared.kafka import create_broker, ensure_topics
from talent_shared.settings import ServiceSettings
from talent_signup.app import create_app as create_signup_app
from talent_signup.settings import SignupSettings
from tests.support.smtp import SmtpServer

S = TypeVar("S", bound=ServiceSettings)

# Tests sign up far faster than a person: the rate limits' own tests set them explicitly.
UNLIMITED_SIGNUPS = {
    "signup_rate_per_ip": "1000000/second",
    "signup_rate_per_email": "1000000/second",
}
# Tests wait seconds, not the five minutes of a real alert window: a match is alerted at the next
# check. Coalescing has its own tests, with windows of their own.
PROMPT_ALERTS = {"alert_window_seconds": 0.0, "alert_check_seconds": 0.2}


@pytest.fixture(scope="session")
async def infrastructure() -> None:
    """Fail (never skip) when the real Kafka broker or PostgreSQL is not running; make sure the
    contract's topics exist (as a starting service would) so tests can read them at once."""
    require_infrastructure()
    settings = ServiceSettings()
    broker = create_broker(settings)
    await broker.connect()
    try:
        await ensure_topics(
            broker,
            partitions=settings.kafka_topic_partitions,
            replication_factor=settings.kafka_replication_factor,
        )
    finally:
        await broker.stop()


def settings_for_test(cls: type[S], database_url: str, **overrides: object) -> S:
    """Settings of a service under test: its own database and consumer groups of its own."""
    values: dict[str, object] = {
        "database_url": database_url,
        "kafka_consumer_group_prefix": f"test-{uuid.uuid4().hex[:8]}.",
        "kafka_auto_offset_reset": "latest",
        "graceful_timeout_seconds": 3.0,
        "kafka_publish_timeout_seconds": 3.0,
        **UNLIMITED_SIGNUPS,
        **PROMPT_ALERTS,
        **overrides,
    }
    return cls(**values)  # type: ignore[arg-type]


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan (pool, migrations, broker, relay) and give an HTTP client to it."""
    async with app.router.lifespan_context(app):
        await app.state.runtime.wait_until_consuming()
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


@pytest.fixture(scope="module")
async def jobs_database(infrastructure: None) -> AsyncIterator[str]:
    async with fresh_database("jobs") as url:
        yield url


@pytest.fixture(scope="module")
async def jobs(jobs_database: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client to a jobs service running on the real broker and a fresh database."""
    async with running(create_jobs_app(settings_for_test(JobsSettings, jobs_database))) as client:
        yield client


@pytest.fixture(scope="module")
async def signup_database(infrastructure: None) -> AsyncIterator[str]:
    async with fresh_database("signup") as url:
        yield url


@pytest.fixture(scope="module")
async def signup(signup_database: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client to a signup service running on the real broker and a fresh database."""
    app = create_signup_app(settings_for_test(SignupSettings, signup_database))
    async with running(app) as client:
        yield client


@dataclass
class Stack:
    """The three services in this process, on the real broker, fresh databases and an SMTP
    server the test controls."""

    signup: httpx.AsyncClient
    jobs: httpx.AsyncClient
    notifications: httpx.AsyncClient
    notifications_runtime: NotificationsRuntime
    notifications_database: str
    smtp: SmtpServer
    signup_database: str


@asynccontextmanager
async def start_stack(
    *, signup_settings: dict[str, object] | None = None, **notifications_settings: object
) -> AsyncIterator[Stack]:
    """The three services and an SMTP server; ``notifications_settings`` override its settings,
    ``signup_settings`` the signup service's."""
    with SmtpServer() as smtp:
        async with (
            fresh_database("signup") as signup_db,
            fresh_database("jobs") as jobs_db,
            fresh_database("notifications") as notifications_db,
        ):
            notifications_app = create_notifications_app(
                settings_for_test(
                    NotificationsSettings,
                    notifications_db,
                    **{
                        "smtp_port": smtp.port,
                        "public_base_url": "https://careers.example.org",
                        "delivery_poll_seconds": 0.2,
                        "delivery_retry_base_seconds": 0.2,
                        "delivery_retry_max_seconds": 1.0,
                        "digest_check_seconds": 3600.0,
                        **notifications_settings,
                    },
                )
            )
            async with (
                running(
                    create_signup_app(
                        settings_for_test(SignupSettings, signup_db, **(signup_settings or {}))
                    )
                ) as signup,
                running(create_jobs_app(settings_for_test(JobsSettings, jobs_db))) as jobs,
                running(notifications_app) as notifications,
            ):
                yield Stack(
                    signup=signup,
                    jobs=jobs,
                    notifications=notifications,
                    notifications_runtime=notifications_app.state.runtime,
                    notifications_database=notifications_db,
                    smtp=smtp,
                    signup_database=signup_db,
                )


@pytest.fixture(scope="module")
async def stack(infrastructure: None) -> AsyncIterator[Stack]:
    async with start_stack() as running_stack:
        yield running_stack


@pytest.fixture
async def shared_pool(infrastructure: None) -> AsyncIterator[Pool]:
    """A pool on a fresh database holding the shared library's tables (outbox, inbox)."""
    async with fresh_database("shared") as url:
        pool = await create_pool(url, max_size=4)
        await apply_migrations(pool, shared_migrations())
        try:
            yield pool
        finally:
            await pool.close()


@pytest.fixture
async def kafka_broker(infrastructure: None) -> AsyncIterator[KafkaBroker]:
    """A connected FastStream broker built by the shared factory (no subscribers started)."""
    broker = create_broker(ServiceSettings())
    await broker.connect()
    try:
        yield broker
    finally:
        await broker.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that uses the real infrastructure, even through another fixture, is an integration
    test: `make test-unit` (-m "not integration ...") runs only the others, with nothing started."""
    for item in items:
        if "infrastructure" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.integration)
