"""The careers site as `make up` starts it, on free ports: the three services as processes on the
shared Kafka and PostgreSQL (fresh databases), an SMTP server the test reads, and the gateway
started by deploy/local/gateway.py. Used by the browser tests and by `make screenshots`."""

import asyncio
import threading
import time
import uuid
from collections.abc import Coroutine, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TypeVar

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from playwright.sync_api import Browser, Playwright

from deploy.local.apt import ensure_debian_package
from deploy.local.gateway import Gateway
from devsupport.databases import fresh_database
from devsupport.infra import kafka_bootstrap, require_infrastructure
from devsupport.kafka import partitions_of
from devsupport.ports import free_port
from devsupport.services import ADMIN_HEADERS, ServiceProcess, start_service
from talent_jobs.app import create_app as create_jobs_app
from talent_jobs.settings import JobsSettings
from talent_notifications.app import create_app as create_notifications_app
from talent_notifications.settings import NotificationsSettings
from tests.support.smtp import SmtpServer

SERVICES = ("signup", "jobs", "notifications")
T = TypeVar("T")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def launch_chromium(playwright: Playwright) -> Browser:
    """Debian's Chromium (installed with apt-get when missing): Playwright cannot download one."""
    executable = ensure_debian_package("chromium", "chromium")
    return playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)


@dataclass
class CareersStack:
    url: str
    services: dict[str, ServiceProcess]
    smtp: SmtpServer
    gateway: Gateway

    def post_job(self, **job: object) -> dict[str, Any]:
        body = {"category": "Nursing", "location": "Durham, NC", "description": "Nights.", **job}
        response = httpx.post(f"{self.url}/v1/jobs", json=body, headers=ADMIN_HEADERS)
        response.raise_for_status()
        created: dict[str, Any] = response.json()
        return created

    def emails_to(self, address: str, count: int, timeout: float = 30.0) -> list[EmailMessage]:
        """The messages to ``address`` once there are ``count`` (or all there are at timeout)."""
        deadline = time.monotonic() + timeout
        while len(self.smtp.handler.to(address)) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.smtp.handler.to(address)


class _BackgroundLoop:
    """An event loop on a thread of its own, for the async helpers of the stack: Playwright's
    sync API keeps a loop running on the main thread, where asyncio.run would refuse."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


@contextmanager
def _fresh_database(background: _BackgroundLoop, prefix: str) -> Iterator[str]:
    """tests.support.infra.fresh_database, held open across synchronous code."""
    database = fresh_database(prefix)
    url = background.run(database.__aenter__())
    try:
        yield url
    finally:
        background.run(database.__aexit__(None, None, None))


def _consumer_groups(group_prefix: str) -> dict[str, list[str]]:
    """Each consumer group the services will run, with its topics (from their registrations)."""
    groups: dict[str, list[str]] = {}
    for create_app, settings in (
        (create_jobs_app, JobsSettings(kafka_consumer_group_prefix=group_prefix)),
        (create_notifications_app, NotificationsSettings(kafka_consumer_group_prefix=group_prefix)),
    ):
        for subscriber in create_app(settings).state.runtime.broker.subscribers:  # type: ignore[arg-type]
            groups[subscriber.group_id] = list(subscriber.topic_names)
    return groups


async def _start_groups_at_topic_end(groups: dict[str, list[str]]) -> None:
    """Commit the topics' current end offsets for the services' new consumer groups, so they
    read every event from now on and none of the shared broker's history."""
    for group, topics in groups.items():
        consumer = AIOKafkaConsumer(
            bootstrap_servers=kafka_bootstrap(), group_id=group, enable_auto_commit=False
        )
        await consumer.start()
        try:
            partitions = [
                TopicPartition(topic, partition)
                for topic in topics
                for partition in await partitions_of(topic)
            ]
            consumer.assign(partitions)
            ends = await consumer.end_offsets(partitions)
            await consumer.commit(ends)
        finally:
            await consumer.stop()


@contextmanager
def careers_stack(workdir: Path, **service_env: str) -> Iterator[CareersStack]:
    """Start everything; ``service_env`` goes to the three services (CORS_ALLOWED_ORIGINS...)."""
    require_infrastructure()
    with ExitStack() as cleanup:
        smtp = cleanup.enter_context(SmtpServer())
        gateway_port = free_port()
        public_url = f"http://127.0.0.1:{gateway_port}"
        group_prefix = f"test-{uuid.uuid4().hex[:8]}."
        background = _BackgroundLoop()
        cleanup.callback(background.close)
        background.run(_start_groups_at_topic_end(_consumer_groups(group_prefix)))
        environment = {
            "KAFKA_CONSUMER_GROUP_PREFIX": group_prefix,
            "SMTP_PORT": str(smtp.port),
            "PUBLIC_BASE_URL": public_url,
            "TRUSTED_PROXIES": "127.0.0.1",
            "DELIVERY_POLL_SECONDS": "0.2",
            **service_env,
        }
        services: dict[str, ServiceProcess] = {}
        for name in SERVICES:
            database = cleanup.enter_context(_fresh_database(background, name))
            services[name] = start_service(name, database, workdir, **environment)
            cleanup.callback(services[name].kill)
        for service in services.values():
            service.wait_ready()
        gateway = Gateway(
            port=gateway_port,
            state_dir=workdir / "gateway",
            service_ports={name: service.port for name, service in services.items()},
        )
        gateway.start()
        cleanup.callback(gateway.stop)
        yield CareersStack(url=public_url, services=services, smtp=smtp, gateway=gateway)
