"""Every image the compose stack and the testcontainers fixtures need, built or found.

    python deploy/docker/images.py           base images, then the project's images (the three
                                             services and the site); writes
                                             .local/docker/compose.env
    python deploy/docker/images.py --base    only the base images (what the test fixtures run)
    python deploy/docker/images.py --sizes   the size of each image in compose.env

Base images: an official image (the defaults in docker-compose.yml and the Dockerfile) is used
unchanged when the engine has it or can pull it; otherwise a stand-in is built from Debian's
packages (deploy/docker/<name>/Dockerfile) on a base made with debootstrap from the mirror the
machine's apt uses. Stand-ins are tagged talent-standin/<name>:<version>, never with an official
name. An *_IMAGE variable set in the environment wins over both. Images are rebuilt only when
their build context changes (a label holds its hash).
"""

import argparse
import hashlib
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "deploy" / "docker"
STATE = ROOT / ".local" / "docker"
ENV_FILE = STATE / "compose.env"
SUITE = "bookworm"
BASE_TAG = f"talent-standin/debian:{SUITE}"
HASH_LABEL = "talent.context-hash"
SYSTEM_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
SERVICES = ("signup", "jobs", "notifications")
SECRET_NAMES = ("ADMIN_API_TOKEN", "TOKEN_SECRET", "POSTGRES_PASSWORD")
# The ports the stack publishes, by variable of docker-compose.yml.
HOST_PORTS = {
    "SIGNUP_HOST_PORT": 8001,
    "JOBS_HOST_PORT": 8002,
    "NOTIFICATIONS_HOST_PORT": 8003,
    "SMTP_HOST_PORT": 1025,
    "MAIL_UI_HOST_PORT": 8025,
    "GATEWAY_HOST_PORT": 8080,
}


@dataclass(frozen=True)
class StandIn:
    variable: str  # the *_IMAGE variable of docker-compose.yml / the Dockerfile
    directory: str  # under deploy/docker/
    tag: str


def kafka_version() -> str:
    pom = (ROOT / "deploy" / "local" / "kafka" / "pom.xml").read_text()
    match = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", pom)
    assert match, "deploy/local/kafka/pom.xml names no kafka.version"
    return match.group(1)


STAND_INS = (
    StandIn("PYTHON_IMAGE", "python", "talent-standin/python:3.11-bookworm"),
    StandIn("KAFKA_IMAGE", "kafka", f"talent-standin/kafka:{kafka_version()}"),
    StandIn("POSTGRES_IMAGE", "postgres", "talent-standin/postgres:15"),
    StandIn("MAIL_IMAGE", "mailsink", "talent-standin/mailsink:1"),
    StandIn("NGINX_IMAGE", "nginx", "talent-standin/nginx:1.22"),
)


def official_defaults() -> dict[str, str]:
    """`${NAME_IMAGE:-default}` in docker-compose.yml and `ARG PYTHON_IMAGE=` in the Dockerfile."""
    compose = (ROOT / "docker-compose.yml").read_text()
    found = dict(re.findall(r"\$\{(\w+_IMAGE):-([^}]+)\}", compose))
    dockerfile = (ROOT / "Dockerfile").read_text()
    python = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", dockerfile, re.MULTILINE)
    assert python, "the Dockerfile has no ARG PYTHON_IMAGE default"
    found["PYTHON_IMAGE"] = python.group(1)
    return found


def docker(*args: str, capture: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], check=False, text=True, capture_output=capture)


def image_label(tag: str) -> str | None:
    template = f'{{{{ index .Config.Labels "{HASH_LABEL}" }}}}'
    result = docker("image", "inspect", "-f", template, tag, capture=True)
    return result.stdout.strip() if result.returncode == 0 else None


def official_available(image: str) -> bool:
    if docker("image", "inspect", image, capture=True).returncode == 0:
        return True
    return docker("pull", "--quiet", image, capture=True).returncode == 0


def context_hash(directory: Path, *extra: str) -> str:
    digest = hashlib.sha256("\n".join(extra).encode())
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(directory)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def debian_mirror() -> str:
    """The first Debian archive the machine's apt uses (deb822 or one-line sources)."""
    sources = Path("/etc/apt/sources.list.d")
    for path in [*sorted(sources.glob("*.sources")), *sorted(sources.glob("*.list"))]:
        text = path.read_text()
        deb822 = re.search(r"^URIs:\s*(\S+/debian)/?\s*$", text, re.MULTILINE)
        if deb822:
            return deb822.group(1)
    one_line = Path("/etc/apt/sources.list")
    if one_line.exists():
        match = re.search(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+/debian)/?\s", one_line.read_text(), re.M)
        if match:
            return match.group(1)
    sys.exit("images.py: no Debian mirror found in /etc/apt/sources.list(.d)")


def timed(label: str, started: float) -> None:
    print(f"images.py: {label} in {time.monotonic() - started:.0f} s", flush=True)


def ensure_base() -> None:
    """A minimal Debian base image made with debootstrap and `docker import`."""
    mirror = debian_mirror()
    wanted = hashlib.sha256(f"{SUITE} {mirror}".encode()).hexdigest()[:16]
    if image_label(BASE_TAG) == wanted:
        return
    if not shutil.which("debootstrap"):
        subprocess.run(["apt-get", "install", "-y", "-q", "debootstrap"], check=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="talent-rootfs-") as rootfs:
        subprocess.run(
            ["debootstrap", "--variant=minbase", SUITE, rootfs, mirror],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        # Every image built on it runs `apt-get update` first: no package cache or lists here.
        for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
            shutil.rmtree(Path(rootfs, cache), ignore_errors=True)
            Path(rootfs, cache, "partial").mkdir(parents=True)
        tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(
            ["docker", "import", "--change", f"LABEL {HASH_LABEL}={wanted}", "-", BASE_TAG],
            stdin=tar.stdout,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        if tar.wait() != 0:
            sys.exit("images.py: tar of the debootstrap root failed")
    timed(f"{BASE_TAG} made with debootstrap", started)


def stage_kafka_libs(context: Path) -> None:
    """The jars deploy/local/kafka/pom.xml resolves, copied into the stand-in's build context."""
    pom = ROOT / "deploy" / "local" / "kafka" / "pom.xml"
    libs = context / "libs"
    local = ROOT / ".local" / "kafka" / "libs"
    stamp = hashlib.sha256(pom.read_bytes()).hexdigest()
    if (local / ".pom.sha256").exists() and (local / ".pom.sha256").read_text().strip() == stamp:
        shutil.copytree(local, libs, ignore=shutil.ignore_patterns(".*"))
        return
    command = ["mvn", "-B", "-q", "-f", str(pom), "dependency:copy-dependencies"]
    resolved = subprocess.run(
        [*command, f"-DoutputDirectory={libs}"], capture_output=True, text=True, check=False
    )
    if resolved.returncode != 0:
        sys.exit(f"images.py: mvn could not resolve the Kafka jars:\n{resolved.stdout}")


def ensure_stand_in(stand_in: StandIn) -> None:
    with tempfile.TemporaryDirectory(prefix="talent-standin-") as work:
        context = Path(work)
        shutil.copytree(HERE / stand_in.directory, context, dirs_exist_ok=True)
        if stand_in.directory == "kafka":
            stage_kafka_libs(context)
        wanted = context_hash(context, BASE_TAG, image_label(BASE_TAG) or "")
        if image_label(stand_in.tag) == wanted:
            return
        started = time.monotonic()
        build(context, stand_in.tag, wanted, {"BASE_IMAGE": BASE_TAG})
        timed(f"{stand_in.tag} built", started)


def build(context: Path, tag: str, label: str, args: dict[str, str], *extra: str) -> None:
    command = ["docker", "buildx", "build", "--quiet", "--tag", tag]
    command += ["--label", f"{HASH_LABEL}={label}"]
    for name, value in args.items():
        command += ["--build-arg", f"{name}={value}"]
    subprocess.run([*command, *extra, str(context)], check=True, stdout=subprocess.DEVNULL)


def ca_bundle() -> Path | None:
    """CA_BUNDLE (an operator's proxy CA), else the machine's bundle: a build secret only."""
    path = Path(os.environ.get("CA_BUNDLE", SYSTEM_CA_BUNDLE))
    return path if path.is_file() else None


def ensure_service_images(python_image: str, tag: str) -> None:
    bundle = ca_bundle()
    secret = ["--secret", f"id=ca_bundle,src={bundle}"] if bundle else []
    for service in SERVICES:
        started = time.monotonic()
        build(
            ROOT,
            f"talent-network/{service}:{tag}",
            "service",
            {"SERVICE": service, "PYTHON_IMAGE": python_image},
            *secret,
        )
        timed(f"talent-network/{service}:{tag} built", started)


def ensure_site_image(nginx_image: str, tag: str) -> None:
    """The careers site on the nginx image (deploy/docker/site: what Kubernetes serves)."""
    started = time.monotonic()
    dockerfile = ["--file", str(HERE / "site" / "Dockerfile")]
    build(ROOT, f"talent-network/site:{tag}", "site", {"NGINX_IMAGE": nginx_image}, *dockerfile)
    timed(f"talent-network/site:{tag} built", started)


def resolve_base_images() -> dict[str, str]:
    defaults = official_defaults()
    chosen: dict[str, str] = {}
    for stand_in in STAND_INS:
        official = defaults.get(stand_in.variable)
        if stand_in.variable in os.environ:
            chosen[stand_in.variable] = os.environ[stand_in.variable]
        elif official and official_available(official):
            chosen[stand_in.variable] = official
        else:
            ensure_base()
            ensure_stand_in(stand_in)
            chosen[stand_in.variable] = stand_in.tag
    return chosen


def port_is_free(port: int) -> bool:
    """Whether a server could listen on ``port`` now. SO_REUSEADDR, as servers set it: without
    it, the TIME_WAIT connections a stopped stack leaves (right after `make down`) would make
    its ports look taken, and the whole compose stack would move 10000 up."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("0.0.0.0", port))
        except OSError:
            return False
        return True


def host_ports() -> dict[str, str]:
    """The usual ports when all are free; else each 10000 above (a machine that also runs the
    native stack, as CI does, keeps the usual ones for it); else any free port."""
    shift = 0 if all(port_is_free(port) for port in HOST_PORTS.values()) else 10000
    chosen: dict[str, str] = {}
    for name, usual in HOST_PORTS.items():
        if port_is_free(usual + shift):
            chosen[name] = str(usual + shift)
        else:
            with socket.socket() as probe:
                probe.bind(("0.0.0.0", 0))
                chosen[name] = str(probe.getsockname()[1])
    return chosen


def write_env_file(images: dict[str, str]) -> None:
    """Image names for compose and the fixtures; this machine's secrets and host ports, chosen
    once and kept (the PostgreSQL volume remembers its password; a running stack its ports).
    A variable set in the environment wins."""
    kept: dict[str, str] = {}
    if ENV_FILE.exists():
        kept = dict(line.split("=", 1) for line in ENV_FILE.read_text().splitlines() if "=" in line)
    overrides = [*SECRET_NAMES, *HOST_PORTS]
    kept.update({name: os.environ[name] for name in overrides if name in os.environ})
    generated = {name: kept.get(name) or secrets.token_urlsafe(32) for name in SECRET_NAMES}
    ports = {**host_ports(), **{name: kept[name] for name in HOST_PORTS if kept.get(name)}}
    values = {**images, **generated, **ports}
    STATE.mkdir(parents=True, exist_ok=True)
    ENV_FILE.write_text("".join(f"{name}={value}\n" for name, value in values.items()))
    ENV_FILE.chmod(0o600)


def print_sizes() -> None:
    pairs = [line.split("=", 1) for line in ENV_FILE.read_text().splitlines()]
    images = [BASE_TAG, *(value for name, value in pairs if name.endswith("_IMAGE"))]
    images += [f"talent-network/{name}:latest" for name in (*SERVICES, "site")]
    print("| image | size |\n|---|---|")
    for image in images:
        result = docker("image", "inspect", "-f", "{{.Size}}", image, capture=True)
        size = f"{int(result.stdout) / 1e6:.0f} MB" if result.returncode == 0 else "absent"
        print(f"| `{image}` | {size} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", action="store_true", help="only the base images")
    parser.add_argument("--sizes", action="store_true", help="print the image sizes")
    options = parser.parse_args()
    if options.sizes:
        print_sizes()
        return
    images = resolve_base_images()
    if not options.base:
        ensure_service_images(images["PYTHON_IMAGE"], os.environ.get("TAG", "latest"))
        ensure_site_image(images["NGINX_IMAGE"], os.environ.get("TAG", "latest"))
    write_env_file(images)
    print(f"images.py: image names and secrets in {ENV_FILE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
