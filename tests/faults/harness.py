"""The fault-injection harness: the three services as real processes (restartable, one or two
replicas each), traffic that records what was accepted, and checks of the end state against it.

Each scenario drives traffic while injecting one fault, then reports a row of the table that
`make faults` prints: scenario, events accepted, events found, lost, duplicated, recovery time.
"""

import asyncio
import re
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import asyncpg
import httpx

from devsupport.ports import free_port
from devsupport.services import ADMIN_HEADERS, ServiceProcess, start_service
from tests.support.smtp import SmtpServer

SERVICES = ("signup", "jobs", "notifications")
JOB_LINK = re.compile(r"/jobs/([0-9a-f-]{36})")
SETTLE_SECONDS = 120  # how long the end state may take to catch up after a fault


@dataclass(frozen=True)
class Outcome:
    scenario: str
    accepted: int
    found: int
    lost: int
    duplicated: int
    recovery_seconds: float | None  # repair -> the first request accepted again
    catch_up_seconds: float | None = None  # traffic stopped -> every accepted event found


RESULTS: list[Outcome] = []


def report(outcome: Outcome) -> Outcome:
    RESULTS.append(outcome)
    return outcome


@dataclass
class Replica:
    service: str
    index: int
    port: int
    process: ServiceProcess | None = None


@dataclass
class FaultStack:
    databases: dict[str, str]
    logs: Path
    smtp: SmtpServer
    replicas_per_service: int = 1
    extra_env: dict[str, str] = field(default_factory=dict)  # e.g. another Kafka cluster
    group_prefix: str = field(default_factory=lambda: f"faults-{uuid.uuid4().hex[:8]}.")
    replicas: dict[str, list[Replica]] = field(default_factory=dict)

    def env(self, service: str) -> dict[str, str]:
        return {
            "KAFKA_CONSUMER_GROUP_PREFIX": self.group_prefix,
            "KAFKA_AUTO_OFFSET_RESET": "latest",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(self.smtp.port),
            "PUBLIC_BASE_URL": "https://careers.example.org",
            "DELIVERY_POLL_SECONDS": "0.2",
            "DELIVERY_RETRY_BASE_SECONDS": "0.2",
            "DELIVERY_RETRY_MAX_SECONDS": "2",
            "DELIVERY_MAX_ATTEMPTS": "200",
            "GRACEFUL_TIMEOUT_SECONDS": "5",
            "LOG_LEVEL": "INFO",
            **self.extra_env,
        }

    def start_all(self) -> None:
        for service in SERVICES:
            self.replicas[service] = []
            for index in range(self.replicas_per_service):
                self.add_replica(service, index)
        for replicas in self.replicas.values():
            for replica in replicas:
                assert replica.process is not None
                replica.process.wait_ready()

    def add_replica(self, service: str, index: int) -> Replica:
        replica = Replica(service, index, free_port())
        self.replicas.setdefault(service, []).append(replica)
        self.start(replica)
        return replica

    def start(self, replica: Replica) -> None:
        replica.process = start_service(
            replica.service,
            self.databases[replica.service],
            self.logs,
            label=f"{replica.service}-{replica.index}",
            HTTP_PORT=str(replica.port),
            **self.env(replica.service),
        )

    def kill(self, replica: Replica) -> None:
        """SIGKILL: no graceful shutdown, no offset commit, no flush."""
        assert replica.process is not None
        replica.process.kill()

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.replicas[service][0].port}"

    def stop_all(self) -> None:
        for replicas in self.replicas.values():
            for replica in replicas:
                if replica.process is not None:
                    replica.process.kill()

    def log_lines(self) -> list[str]:
        return [line for path in self.logs.glob("*.log") for line in path.read_text().splitlines()]


@dataclass
class Traffic:
    """Sends one kind of request again and again (retrying each, as a front end does, until
    accepted or out of tries) and records what was accepted and when."""

    send: Callable[[int], Awaitable[bool]]
    interval_seconds: float = 0.02
    accepted: list[int] = field(default_factory=list)
    accepted_at: list[float] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None
    _stopping: bool = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self._stopping = True
        assert self._task is not None
        await self._task

    async def _run(self) -> None:
        number = 0
        while not self._stopping:
            for _ in range(100):  # ~20 s of retries for one request at most
                if await self._try(number):
                    self.accepted.append(number)
                    self.accepted_at.append(time.monotonic())
                    break
                await asyncio.sleep(0.2)
            number += 1
            await asyncio.sleep(self.interval_seconds)

    async def _try(self, number: int) -> bool:
        try:
            return await self.send(number)
        except httpx.HTTPError:
            return False

    def first_accepted_after(self, moment: float) -> float | None:
        later = [t for t in self.accepted_at if t >= moment]
        return later[0] - moment if later else None


def view_traffic(stack: FaultStack, client: httpx.AsyncClient, job_id: str, tag: str) -> Traffic:
    async def send(number: int) -> bool:
        response = await client.post(
            f"{stack.url('jobs')}/v1/job-views",
            json={"visitor_id": f"{tag}-{number}", "job_id": job_id},
            timeout=10,
        )
        return response.status_code == 202

    return Traffic(send)


def signup_traffic(
    stack: FaultStack, client: httpx.AsyncClient, tag: str, interests: list[str]
) -> Traffic:
    async def send(number: int) -> bool:
        response = await client.post(
            f"{stack.url('signup')}/v1/signups",
            json={
                "email": f"{tag}-{number}@example.org",
                "first_name": "Fault",
                "last_name": "Test",
                "interests": interests,
                "alert_frequency": "instant",
                "consent": True,
            },
            timeout=10,
        )
        return response.status_code in (200, 201)

    return Traffic(send, interval_seconds=0.1)


async def post_job(stack: FaultStack, client: httpx.AsyncClient, category: str) -> str:
    response = await client.post(
        f"{stack.url('jobs')}/v1/jobs",
        headers=ADMIN_HEADERS,
        json={
            "title": "Fault nurse",
            "category": category,
            "location": "Durham, NC",
            "description": "Nights.",
        },
    )
    response.raise_for_status()
    job_id: str = response.json()["job_id"]
    return job_id


async def views_found(stack: FaultStack, tag: str, accepted: list[int], timeout: float) -> int:
    """How many accepted views are in the projection, waiting up to ``timeout`` for all."""
    visitors = [f"{tag}-{n}" for n in accepted]
    deadline = time.monotonic() + timeout
    connection = await asyncpg.connect(stack.databases["jobs"])
    try:
        while True:
            found: int = await connection.fetchval(
                "SELECT count(DISTINCT visitor_id) FROM recently_viewed WHERE visitor_id = ANY($1)",
                visitors,
            )
            if found == len(visitors) or time.monotonic() > deadline:
                return found
            await asyncio.sleep(0.25)
    finally:
        await connection.close()


def distinct_emails(smtp: SmtpServer, *, every_copy: bool = False) -> list[EmailMessage]:
    """The emails received, one per Message-ID. A server that stores a message and dies before
    answering gets the same message again (the client must retry: RFC 5321 4.1.1.4, RFC 1047);
    it carries the same Message-ID (the delivery's), so a mailbox keeps one. Two emails for one
    reason have two ids and both count. ``every_copy``: where no server dies, a copy is a
    duplicate the service sent (a worker resuming a send another one made)."""
    with smtp.handler.lock:
        messages: list[EmailMessage] = list(smtp.handler.messages)
    if every_copy:
        return messages
    by_id = {str(message["Message-ID"]): message for message in messages}
    if len(by_id) < len(messages):
        print(f"SMTP: {len(messages) - len(by_id)} message(s) sent again after no answer")
    return list(by_id.values())


def welcome_counts(
    smtp: SmtpServer, addresses: list[str], *, every_copy: bool = False
) -> Counter[str]:
    wanted = set(addresses)
    counts: Counter[str] = Counter()
    for message in distinct_emails(smtp, every_copy=every_copy):
        to = str(message["To"])
        if to in wanted and message["Subject"].startswith("Welcome"):
            counts[to] += 1
    return counts


async def welcomes_found(
    smtp: SmtpServer, addresses: list[str], timeout: float
) -> tuple[int, int, float]:
    """(addresses with a welcome, extra welcomes beyond one each, when all had arrived),
    after waiting for all."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(welcome_counts(smtp, addresses)) == len(addresses):
            break
        await asyncio.sleep(0.25)
    complete = time.monotonic()
    await asyncio.sleep(2)  # a duplicate, if one were coming, has time to arrive
    counts = welcome_counts(smtp, addresses)
    return len(counts), sum(count - 1 for count in counts.values()), complete


def duplicate_alerts(smtp: SmtpServer) -> int:
    """Alerted (candidate address, job) pairs that arrived more than once, in any email."""
    pairs: Counter[tuple[str, str]] = Counter()
    for message in distinct_emails(smtp):
        if message["Subject"].startswith("Welcome"):
            continue
        body = message.get_body(preferencelist=("plain",))
        assert body is not None
        for job_id in set(JOB_LINK.findall(str(body.get_content()))):
            pairs[(str(message["To"]), job_id)] += 1
    return sum(count - 1 for count in pairs.values() if count > 1)


async def run_with_fault(
    traffic: list[Traffic], inject: Callable[[], Awaitable[None]], after: float = 4.0
) -> float:
    """Start traffic, inject the fault (which returns once it is repaired), keep going a
    while, stop; returns the moment the fault was repaired."""
    for t in traffic:
        t.start()
    await asyncio.sleep(2)
    await inject()
    repaired = time.monotonic()
    await asyncio.sleep(after)
    for t in traffic:
        await t.stop()
    return repaired


def since(moment: float) -> float:
    return time.monotonic() - moment


async def check_views(
    stack: FaultStack, scenario: str, views: Traffic, view_tag: str, repaired: float
) -> Outcome:
    stopped = time.monotonic()
    found = await views_found(stack, view_tag, views.accepted, SETTLE_SECONDS)
    caught_up = since(stopped)
    outcome = report(
        Outcome(
            f"{scenario}: job views",
            accepted=len(views.accepted),
            found=found,
            lost=len(views.accepted) - found,
            duplicated=await projection_duplicates(stack, view_tag),
            recovery_seconds=views.first_accepted_after(repaired),
            catch_up_seconds=caught_up,
        )
    )
    assert outcome.lost == 0
    assert outcome.duplicated == 0
    return outcome


async def check_signups(
    stack: FaultStack, scenario: str, signups: Traffic, signup_tag: str, repaired: float
) -> Outcome:
    addresses = [f"{signup_tag}-{n}@example.org" for n in signups.accepted]
    stopped = time.monotonic()
    found, extra, caught_up = await welcomes_found(stack.smtp, addresses, SETTLE_SECONDS)
    outcome = report(
        Outcome(
            f"{scenario}: sign-ups, one welcome each",
            accepted=len(addresses),
            found=found,
            lost=len(addresses) - found,
            duplicated=extra + duplicate_alerts(stack.smtp),
            recovery_seconds=signups.first_accepted_after(repaired),
            catch_up_seconds=caught_up - stopped,
        )
    )
    assert outcome.lost == 0
    assert outcome.duplicated == 0
    return outcome


async def projection_duplicates(stack: FaultStack, view_tag: str) -> int:
    connection = await asyncpg.connect(stack.databases["jobs"])
    try:
        extra: int = await connection.fetchval(
            """SELECT count(*) - count(DISTINCT (visitor_id, job_id)) FROM recently_viewed
               WHERE visitor_id LIKE $1""",
            f"{view_tag}-%",
        )
        return extra
    finally:
        await connection.close()


@dataclass
class Workload:
    """Job views and sign-ups (matching one job, so each also gets an alert), tagged apart."""

    views: Traffic
    signups: Traffic
    view_tag: str
    signup_tag: str


def new_tag() -> str:
    return f"f{uuid.uuid4().hex[:8]}"


async def workload(stack: FaultStack, client: httpx.AsyncClient) -> Workload:
    category, view_tag, signup_tag = new_tag(), new_tag(), new_tag()
    job_id = await post_job(stack, client, category)
    return Workload(
        views=view_traffic(stack, client, job_id, view_tag),
        signups=signup_traffic(stack, client, signup_tag, [category]),
        view_tag=view_tag,
        signup_tag=signup_tag,
    )


async def run_and_check(
    stack: FaultStack,
    load: Workload,
    scenario: str,
    inject: Callable[[], Awaitable[None]],
    *,
    after: float = 4.0,
) -> None:
    """Run the workload through the fault, then check (and report) views and sign-ups."""
    repaired = await run_with_fault([load.views, load.signups], inject, after=after)
    await check_views(stack, scenario, load.views, load.view_tag, repaired)
    await check_signups(stack, scenario, load.signups, load.signup_tag, repaired)
