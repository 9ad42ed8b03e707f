"""The running compose stack (`make compose-up`), seen from the host as its users see it."""

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from devsupport.infra import REPO_ROOT
from tests.support.infra import eventually

# Written by deploy/docker/images.py: image names, secrets and host ports of this machine.
ENV_FILE = Path(os.environ.get("COMPOSE_ENV_FILE", REPO_ROOT / ".local" / "docker" / "compose.env"))
APP_PORTS = {"signup": 8001, "jobs": 8002, "notifications": 8003}
MAIL_UI_PORT = 8025
GATEWAY_PORT = 8080


def compose(*args: str) -> str:
    """Run `docker compose` on the project's compose file; its standard output."""
    command = ["docker", "compose", "--env-file", str(ENV_FILE), *args]
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr}")
    return result.stdout


def env_value(name: str) -> str:
    for line in ENV_FILE.read_text().splitlines():
        key, _, value = line.partition("=")
        if key == name:
            return value
    raise KeyError(f"{name} is not in {ENV_FILE}")


def published_url(service: str, port: int) -> str:
    """Where the host reaches ``service``'s ``port`` (`docker compose port`)."""
    address = compose("port", service, str(port)).strip()
    if not address:
        raise RuntimeError(f"{service}:{port} is not published: is the stack up (make compose-up)?")
    return f"http://127.0.0.1:{address.rsplit(':', 1)[1]}"


def container_state(service: str) -> dict[str, Any]:
    [container_id] = compose("ps", "--all", "--quiet", service).split()
    inspected = subprocess.run(
        ["docker", "inspect", container_id], capture_output=True, text=True, check=True
    )
    state: dict[str, Any] = json.loads(inspected.stdout)[0]["State"]
    return state


@dataclass
class ComposeStack:
    signup: httpx.AsyncClient
    jobs: httpx.AsyncClient
    notifications: httpx.AsyncClient
    mail: httpx.AsyncClient  # the mail sink's API (Mailpit's, or the stand-in's subset of it)
    gateway: httpx.AsyncClient  # the public origin: the careers site and the API routes
    admin_headers: dict[str, str]

    async def messages_to(self, address: str) -> list[dict[str, Any]]:
        response = await self.mail.get("/api/v1/messages")
        response.raise_for_status()
        listed: list[dict[str, Any]] = response.json()["messages"]
        return [m for m in listed if address in [to["Address"] for to in m["To"]]]

    async def wait_for_messages(self, address: str, count: int) -> list[dict[str, Any]]:
        async def arrived() -> list[dict[str, Any]]:
            found = await self.messages_to(address)
            return found if len(found) >= count else []

        found: list[dict[str, Any]] = await eventually(arrived, timeout=60, interval=0.5)
        assert len(found) == count, f"{address}: {len(found)} of {count} messages arrived"
        return found


def stop_with_sigterm(service: str) -> None:
    """`docker compose stop` sends SIGTERM and waits up to stop_grace_period; exit code 0 shows
    the service finished its work and stopped by itself, not killed when the grace ran out."""
    compose("stop", service)
    state = container_state(service)
    assert not state["Running"]
    assert state["ExitCode"] == 0, f"{service} exited with {state['ExitCode']} on SIGTERM"


def start(service: str) -> None:
    """Start a stopped service again; return once it is healthy."""
    compose("up", "--detach", "--no-build", "--wait", service)


async def sign_up(stack: ComposeStack, email: str) -> None:
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
    response = await stack.signup.post("/v1/signups", json=body)
    assert response.status_code == 201, response.text


async def post_job(stack: ComposeStack, title: str) -> str:
    body = {
        "title": title,
        "category": "Nursing",
        "location": "Durham, NC",
        "description": "Nights on the ICU.",
    }
    response = await stack.jobs.post("/v1/jobs", json=body, headers=stack.admin_headers)
    assert response.status_code == 201, response.text
    job_id: str = response.json()["job_id"]
    return job_id


async def recently_viewed(stack: ComposeStack, visitor_id: str) -> list[str]:
    response = await stack.jobs.get(f"/v1/visitors/{visitor_id}/recently-viewed")
    assert response.status_code == 200, response.text
    return [item["job_id"] for item in response.json()["items"]]


# Runs in a container of its own on the stack's network: sign-ups through the gateway until one
# is refused (at most ``limit``), then prints the status codes.
SIGN_UPS_THROUGH_THE_GATEWAY = """
import json, sys, urllib.error, urllib.request, uuid
codes = []
for _ in range(int(sys.argv[1])):
    body = {"email": f"client-{uuid.uuid4().hex}@example.org", "first_name": "Ada",
            "last_name": "Lovelace", "consent": True}
    request = urllib.request.Request("http://gateway:8080/v1/signups", json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
    try:
        codes.append(urllib.request.urlopen(request, timeout=10).status)
    except urllib.error.HTTPError as error:
        codes.append(error.code)
    if codes[-1] == 429:
        break
print(json.dumps(codes))
"""


def sign_ups_from_a_client_of_its_own(address: str, limit: int) -> list[int]:
    """Sign-ups sent from a new container on the stack's network at ``address`` (Docker hands
    a freed address to the next container, so each client names its own), as a visitor of the
    public origin; the status codes, up to the first 429."""
    image = compose("images", "--format", "json", "signup")
    [repository] = {entry["Repository"] + ":" + entry["Tag"] for entry in json.loads(image)}
    command = [
        "docker", "run", "--rm", "--network", "talent-network_default", "--ip", address,
        "--entrypoint", "python", repository, "-c", SIGN_UPS_THROUGH_THE_GATEWAY, str(limit),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120)
    codes: list[int] = json.loads(result.stdout)
    return codes
