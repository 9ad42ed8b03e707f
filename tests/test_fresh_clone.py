"""`make up` works from a fresh clone under a new private (0700) directory, as root too, where the
PostgreSQL server's user cannot reach the checkout; `make down` then leaves nothing running.

Everything the clone starts is on free ports (INFRA_* and <SERVICE>_HTTP_PORT), never on the
shared infrastructure's. The clone installs uv, the workspace (from the uv cache) and the Kafka
jars (from Maven's local repository) itself, as on a new machine.
"""

import contextlib
import ipaddress
import mailbox
import os
import re
import shutil
import stat
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import psutil
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from devsupport.infra import REPO_ROOT, port_answers
from devsupport.ports import free_port
from talent_shared.events import TOPICS
from tests.support.infra import eventually

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

SERVICES = ("signup", "jobs", "notifications")
MAKE_TIMEOUT_SECONDS = 600
# Settings of the caller's own stack that must not leak into the clone's.
LEAKING = re.compile(r"^(VIRTUAL_ENV|KAFKA_.*|.*DATABASE_URL|.*HTTP_PORT|SMTP_.*|PUBLIC_BASE_URL)$")


@dataclass
class Clone:
    private_dir: Path
    root: Path
    env: dict[str, str]
    infra_ports: dict[str, int]
    http_ports: dict[str, int]

    def make(self, target: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["make", "--no-print-directory", target],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=MAKE_TIMEOUT_SECONDS,
        )
        assert result.returncode == 0, f"make {target} failed:\n{result.stdout}\n{result.stderr}"
        return result

    def ports(self) -> list[int]:
        return [*self.infra_ports.values(), *self.http_ports.values()]


def clone_environment(infra_ports: dict[str, int], http_ports: dict[str, int]) -> dict[str, str]:
    venv_bin = str(REPO_ROOT / ".venv" / "bin")
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p != venv_bin)
    env = {name: value for name, value in os.environ.items() if not LEAKING.match(name)}
    env["PATH"] = path
    env.update({name: str(port) for name, port in infra_ports.items()})
    env.update({f"{service.upper()}_HTTP_PORT": str(p) for service, p in http_ports.items()})
    return env


def clusters_outside(root: Path) -> list[Path]:
    """Cluster directories the runner made outside the checkout for ``root`` (see
    deploy/local/postgres_cluster.py)."""
    try:
        home = Path(os.path.expanduser("~postgres"))
    except KeyError:
        return []
    candidates = (home / "talent-network").glob("*/checkout")
    return [c.parent for c in candidates if c.read_text().strip() == str(root)]


def processes_mentioning(*paths: Path) -> list[str]:
    """Live processes whose command line or working directory lies in one of ``paths``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if any(str(p) in cmdline or cwd.startswith(str(p)) for p in paths):
            found.append(f"{proc.name}: {cmdline[:200]}")
    return found


@pytest.fixture(scope="module")
def clone() -> Iterator[Clone]:
    private_dir = Path(tempfile.mkdtemp(prefix="talent-private-"))
    root = private_dir / "talent-network"
    subprocess.run(["git", "clone", "--quiet", str(REPO_ROOT), str(root)], check=True)
    infra_ports = {
        name: free_port()
        for name in (
            "INFRA_KAFKA_PORT",
            "INFRA_KAFKA_CONTROLLER_PORT",
            "INFRA_POSTGRES_PORT",
            "INFRA_SMTP_PORT",
            "GATEWAY_PORT",  # make up's careers site, never the shared 8080
        )
    }
    http_ports = {service: free_port() for service in SERVICES}
    checkout = Clone(
        private_dir, root, clone_environment(infra_ports, http_ports), infra_ports, http_ports
    )
    try:
        yield checkout
    finally:
        subprocess.run(["make", "down"], cwd=root, env=checkout.env, capture_output=True)
        for directory in clusters_outside(root):
            shutil.rmtree(directory)
            with contextlib.suppress(OSError):  # only if no other checkout's cluster is there
                directory.parent.rmdir()
        shutil.rmtree(private_dir)


@pytest.fixture(scope="module")
def clone_up(clone: Clone) -> Clone:
    assert stat.S_IMODE(clone.private_dir.stat().st_mode) == 0o700
    clone.make("up")
    return clone


def test_make_up_from_a_fresh_clone_under_a_private_directory_serves_every_service(
    clone_up: Clone,
) -> None:
    for service, port in clone_up.http_ports.items():
        response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10)
        assert response.status_code == 200, f"{service}: {response.text}"
        assert response.json()["kafka"] == "ok"


def test_make_up_from_a_fresh_clone_serves_the_careers_site_on_its_gateway(
    clone_up: Clone,
) -> None:
    site = f"http://127.0.0.1:{clone_up.infra_ports['GATEWAY_PORT']}"
    assert "Talent Network Sign Up" in httpx.get(site, timeout=10).text
    featured = httpx.get(f"{site}/v1/jobs?featured=true", timeout=10).json()
    assert featured["items"]  # routed to the clone's jobs service, which make up seeded


async def test_the_clone_services_use_the_clone_kafka_and_postgresql(clone_up: Clone) -> None:
    kafka = f"127.0.0.1:{clone_up.infra_ports['INFRA_KAFKA_PORT']}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    try:
        assert set(TOPICS) <= set(await admin.list_topics())
    finally:
        await admin.close()
    port = clone_up.infra_ports["INFRA_POSTGRES_PORT"]
    jobs = await asyncpg.connect(f"postgresql://talent:talent@127.0.0.1:{port}/jobs")
    try:
        assert await jobs.fetchval("SELECT count(*) FROM jobs") > 0  # make up seeded them
    finally:
        await jobs.close()


async def test_a_sign_up_on_the_clone_gets_its_welcome_in_the_clone_mail_sink(
    clone_up: Clone,
) -> None:
    address = f"clone-{uuid.uuid4().hex[:8]}@example.org"
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(
            f"http://127.0.0.1:{clone_up.http_ports['signup']}/v1/signups",
            json={"email": address, "first_name": "Ada", "last_name": "L", "consent": True},
        )
    assert response.status_code == 201, response.text
    maildir = mailbox.Maildir(clone_up.root / ".local" / "mail", create=False)

    async def welcomed() -> bool:
        return any(message["To"] == address for message in maildir)

    assert await eventually(welcomed, timeout=60, interval=0.5)


def test_make_up_changes_no_permission_of_the_private_directory(clone_up: Clone) -> None:
    assert stat.S_IMODE(clone_up.private_dir.stat().st_mode) == 0o700


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs the server as another user")
def test_as_root_the_database_cluster_lives_where_its_server_user_can_reach_it(
    clone_up: Clone,
) -> None:
    [outside] = clusters_outside(clone_up.root)
    assert (outside / "data" / "PG_VERSION").is_file()
    status = clone_up.make("status")
    assert f"data {outside}/data" in status.stdout
    assert not (clone_up.root / ".local" / "postgres" / "data").exists()


def test_make_up_listens_on_loopback_only(clone_up: Clone) -> None:
    """The contract's "Secrets and exposure": nothing `make up` starts is reachable from
    another machine unless BIND_HOST says so."""
    listening: dict[int, set[str]] = {port: set() for port in clone_up.ports()}
    for connection in psutil.net_connections("inet"):
        address = connection.laddr
        if connection.status == psutil.CONN_LISTEN and address and address.port in listening:
            listening[address.port].add(address.ip)
    assert all(listening.values()), f"nothing listens on some ports: {listening}"
    assert [ip for ips in listening.values() for ip in ips if not _loopback(ip)] == []


def _loopback(ip: str) -> bool:
    address = ipaddress.ip_address(ip)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped.is_loopback  # a JVM's IPv4 socket, as ::ffff:127.0.0.1
    return address.is_loopback


def test_make_down_leaves_nothing_of_the_clone_running(clone_up: Clone) -> None:
    clone_up.make("down")
    assert processes_mentioning(clone_up.root, *clusters_outside(clone_up.root)) == []
    assert [p for p in clone_up.ports() if port_answers("127.0.0.1", p)] == []


def test_make_up_after_make_down_finds_the_same_cluster_again(clone_up: Clone) -> None:
    before = clusters_outside(clone_up.root)
    result = clone_up.make("up")
    assert "creating a cluster" not in result.stdout
    assert clusters_outside(clone_up.root) == before
    port = clone_up.http_ports["jobs"]
    assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10).status_code == 200
