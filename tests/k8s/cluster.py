"""The test cluster (`make k8s-up`), seen as its users and operators see it: kubectl, the
careers site through the Ingress, the mail sink's API inside the cluster."""

import asyncio
import json
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from deploy.cluster import layout
from deploy.cluster.workload import NAMESPACE, SECRETS_FILE

SERVICES = ("signup", "jobs", "notifications")
DEPLOYMENTS = (*SERVICES, "site")


def kubectl(*args: str, check: bool = True, input_text: str | None = None) -> str:
    command = [str(layout.BIN / "kubectl"), f"--kubeconfig={layout.KUBECONFIG}", *args]
    result = subprocess.run(command, capture_output=True, text=True, check=False, input=input_text)
    if check and result.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout + (result.stderr if not check else "")


def kubectl_json(*args: str) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(kubectl(*args, "-o", "json"))
    return parsed


def cluster_ip(namespace: str, service: str) -> str:
    address: str = kubectl_json("-n", namespace, "get", "service", service)["spec"]["clusterIP"]
    return address


def ingress_client(connections: int = 100) -> httpx.AsyncClient:
    """A client of the careers origin: the Ingress on the node address, with the test host."""
    return httpx.AsyncClient(
        base_url=layout.INGRESS_URL,
        headers={"Host": layout.INGRESS_HOST},
        timeout=30,
        limits=httpx.Limits(max_connections=connections),
    )


def admin_token() -> str:
    token: str = json.loads(SECRETS_FILE.read_text())["ADMIN_API_TOKEN"]
    return token


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def client_address(n: int) -> str:
    """A client address for X-Forwarded-For (TEST-NET-2, RFC 5737: a header value only,
    nothing is ever sent there), so the per-address sign-up limit sees many visitors, as it
    would behind a real load balancer."""
    return f"198.51.100.{n % 254 + 1}"


@dataclass
class Cluster:
    site: httpx.AsyncClient  # the careers origin: the Ingress, with the test host
    mail: httpx.AsyncClient  # the mail sink's API (its ClusterIP, from the node)
    admin_headers: dict[str, str]
    _next_client: int = field(default=0)

    def next_client(self) -> dict[str, str]:
        self._next_client += 1
        return {"X-Forwarded-For": client_address(self._next_client)}

    async def post_job(self, title: str) -> str:
        body = {
            "title": title,
            "category": "Nursing",
            "location": "Durham, NC",
            "description": "Nights on the ICU.",
        }
        response = await self.site.post("/v1/jobs", json=body, headers=self.admin_headers)
        assert response.status_code == 201, response.text
        job_id: str = response.json()["job_id"]
        return job_id

    async def view(self, visitor_id: str, job_id: str) -> httpx.Response:
        return await self.site.post(
            "/v1/job-views",
            json={"visitor_id": visitor_id, "job_id": job_id},
            headers=self.next_client(),
        )

    async def sign_up(self, email: str, headers: dict[str, str] | None = None) -> httpx.Response:
        body = {
            "email": email,
            "first_name": "Ada",
            "last_name": "Lovelace",
            "interests": ["Nursing"],
            "locations": [],
            "keywords": [],
            "alert_frequency": "never",
            "consent": True,
        }
        return await self.site.post("/v1/signups", json=body, headers=headers or self.next_client())

    async def recently_viewed(self, visitor_id: str) -> list[str]:
        response = await self.site.get(f"/v1/visitors/{visitor_id}/recently-viewed")
        assert response.status_code == 200, response.text
        return [item["job_id"] for item in response.json()["items"]]

    async def welcome_counts(self) -> dict[str, int]:
        """How many welcome emails each address received."""
        response = await self.mail.get("/api/v1/messages")
        response.raise_for_status()
        counts: dict[str, int] = {}
        for message in response.json()["messages"]:
            if "Welcome" in message["Subject"]:
                for to in message["To"]:
                    counts[to["Address"]] = counts.get(to["Address"], 0) + 1
        return counts


async def eventually(
    check: Callable[[], Awaitable[bool]], *, timeout: float, interval: float = 1.0
) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if await check():
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(interval)


def pods(service: str) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = kubectl_json(
        "-n", NAMESPACE, "get", "pods", "-l", f"app.kubernetes.io/name={service}"
    )["items"]
    return listed


@dataclass
class Traffic:
    """What a load run sent and what the services accepted."""

    views: dict[str, str] = field(default_factory=dict)  # accepted: visitor -> job
    signups: list[str] = field(default_factory=list)  # accepted email addresses
    failures: list[str] = field(default_factory=list)  # answers other than accepted
    retries: int = 0
    sent: int = 0


async def steady_load(
    cluster: Cluster,
    job_id: str,
    stop: asyncio.Event,
    *,
    views_per_second: float,
    signups_per_second: float,
    retries: int = 0,
) -> Traffic:
    """Views and sign-ups at a fixed rate (open loop: a slow answer does not slow the
    sending) until ``stop`` is set; each view by a new visitor, each sign-up a new address.
    With ``retries``, a failed request is sent again, as a front end does, up to that many
    times; without, every failure counts. The load has a client (and connections) of its own:
    a slow moment of the cluster must not starve the test's other requests, nor theirs it."""
    traffic = Traffic()
    load = Cluster(
        site=ingress_client(connections=1000),
        mail=cluster.mail,
        admin_headers=cluster.admin_headers,
    )
    tasks: set[asyncio.Task[None]] = set()

    async def send(kind: str) -> None:
        key = unique("k8s-visitor") if kind == "view" else f"{unique('k8s')}@example.org"
        for attempt in range(retries + 1):
            traffic.sent += 1
            try:
                if kind == "view":
                    response = await load.view(key, job_id)
                else:
                    response = await load.sign_up(key)
            except httpx.HTTPError as error:
                outcome = f"{kind}: {type(error).__name__}"
            else:
                if response.status_code in (201, 202):
                    if kind == "view":
                        traffic.views[key] = job_id
                    else:
                        traffic.signups.append(key)
                    return
                outcome = f"{kind}: {response.status_code} {response.text[:120]}"
            if attempt < retries:
                traffic.retries += 1
                await asyncio.sleep(0.5)
            else:
                traffic.failures.append(outcome)

    started = time.monotonic()
    sent = {"view": 0, "signup": 0}
    rates = {"view": views_per_second, "signup": signups_per_second}
    while not stop.is_set():
        elapsed = time.monotonic() - started
        for kind, rate in rates.items():
            while sent[kind] < elapsed * rate:
                sent[kind] += 1
                task = asyncio.create_task(send(kind))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        await asyncio.sleep(0.02)
    if tasks:
        await asyncio.gather(*tasks)
    await load.site.aclose()
    return traffic


@dataclass
class Outcome:
    lost_views: list[str]
    duplicated_views: list[str]
    lost_signups: list[str]
    duplicated_signups: list[str]


async def settle(cluster: Cluster, traffic: Traffic, *, timeout: float = 120) -> Outcome:
    """Wait until every accepted view is projected and every accepted sign-up welcomed, or the
    time runs out; what is missing or doubled then."""
    pending_views = dict(traffic.views)
    duplicated_views: list[str] = []

    async def views_done() -> bool:
        for visitor, job in list(pending_views.items()):
            shown = await cluster.recently_viewed(visitor)
            if job in shown:
                del pending_views[visitor]
                if len(shown) != 1:
                    duplicated_views.append(visitor)
        return not pending_views

    async def emails_done() -> bool:
        counts = await cluster.welcome_counts()
        return all(counts.get(email, 0) >= 1 for email in traffic.signups)

    await eventually(views_done, timeout=timeout, interval=2)
    await eventually(emails_done, timeout=timeout, interval=2)
    await asyncio.sleep(5)  # time for a second email, if one were coming
    counts = await cluster.welcome_counts()
    return Outcome(
        lost_views=list(pending_views),
        duplicated_views=duplicated_views,
        lost_signups=[email for email in traffic.signups if counts.get(email, 0) == 0],
        duplicated_signups=[email for email in traffic.signups if counts.get(email, 0) > 1],
    )


def report(title: str, traffic: Traffic, outcome: Outcome, seconds: float) -> None:
    """The numbers of a load run, as the README's fault table shows them."""
    print(f"\n{title} ({seconds:.0f} s of traffic)")
    print("| traffic | accepted | found | lost | duplicated | failed requests | retries |")
    print("|---|---|---|---|---|---|---|")
    views, signups = len(traffic.views), len(traffic.signups)
    failed_views = sum(1 for f in traffic.failures if f.startswith("view"))
    failed_signups = len(traffic.failures) - failed_views
    print(
        f"| job views | {views} | {views - len(outcome.lost_views)} | "
        f"{len(outcome.lost_views)} | {len(outcome.duplicated_views)} | {failed_views} | "
        f"{traffic.retries} |"
    )
    print(
        f"| sign-ups, one welcome each | {signups} | {signups - len(outcome.lost_signups)} | "
        f"{len(outcome.lost_signups)} | {len(outcome.duplicated_signups)} | "
        f"{failed_signups} | - |"
    )
    for failure in traffic.failures[:10]:
        print(f"  failed: {failure}")
