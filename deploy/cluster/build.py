"""The cluster's binaries, built here from the Go module proxy, and the add-on images.

Each folder of go/ is one Go module with its go.mod and go.sum (the versions are pinned there):
    kubernetes      one binary, `kube`, that is every Kubernetes component (kube-apiserver,
                    kube-controller-manager, kube-scheduler, kubelet, kube-proxy, kubectl) and
                    `cri-reset`: the shared packages compile and link once
    coredns         CoreDNS with the plugins cluster DNS needs
    traefik         the Ingress controller (Traefik's own command, as a tool of the module)
    metrics-server  the resource metrics API the HorizontalPodAutoscaler reads
    pause           the pod sandbox process
A binary is rebuilt only when its module's files, the Go version or the flags change (a stamp
beside it). The add-on binaries are static (no cgo): they run in images made of the binary alone.
"""

import hashlib
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from deploy.cluster import layout


@dataclass(frozen=True)
class Binary:
    name: str
    module: str  # folder under go/
    package: str  # what `go build` builds, from inside the module
    static: bool  # CGO_ENABLED=0, to run in an image that holds only the binary
    ldflags: str = "-s -w"


def _version_flags() -> str:
    version = layout.KUBERNETES_VERSION
    major, minor = version.lstrip("v").split(".")[:2]
    flags = []
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [
            f"-X {package}.gitVersion={version}",
            f"-X {package}.gitMajor={major}",
            f"-X {package}.gitMinor={minor}",
            f"-X {package}.gitTreeState=clean",
        ]
    return " ".join(flags)


BINARIES = (
    Binary("kube", "kubernetes", ".", static=False, ldflags=f"-s -w {_version_flags()}"),
    Binary("pause", "pause", ".", static=True),
    Binary("coredns", "coredns", ".", static=True),
    Binary("traefik", "traefik", "github.com/traefik/traefik/v3/cmd/traefik", static=True),
    Binary(
        "metrics-server",
        "metrics-server",
        "sigs.k8s.io/metrics-server/cmd/metrics-server",
        static=True,
    ),
)
# The names `kube` answers to (symlinks in bin/).
KUBE_COMPONENTS = (
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "kube-proxy",
    "kubectl",
)


def _go_version() -> str:
    return subprocess.run(
        ["go", "version"], check=True, capture_output=True, text=True
    ).stdout.strip()


def _stamp(binary: Binary) -> str:
    module = layout.GO_MODULES / binary.module
    digest = hashlib.sha256(f"{_go_version()}\n{binary}\n".encode())
    for path in sorted(module.iterdir()):
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def build(binary: Binary, environment: dict[str, str]) -> float | None:
    """Build ``binary`` into bin/ unless it is up to date; the seconds it took, or None."""
    target = layout.BIN / binary.name
    stamp = target.with_suffix(".stamp")
    wanted = _stamp(binary)
    if target.exists() and stamp.exists() and stamp.read_text() == wanted:
        return None
    started = time.monotonic()
    print(f"cluster: building {binary.name} (go/{binary.module})", flush=True)
    env = {**environment, "CGO_ENABLED": "0"} if binary.static else environment
    partial = target.with_suffix(".partial")
    result = subprocess.run(
        [
            "go",
            "build",
            "-trimpath",
            "-ldflags",
            binary.ldflags,
            "-o",
            str(partial),
            binary.package,
        ],
        cwd=layout.GO_MODULES / binary.module,
        env=env,
        check=False,
    )
    if result.returncode != 0:
        sys.exit(f"cluster: building {binary.name} failed (see above)")
    partial.rename(target)
    stamp.write_text(wanted)
    took = time.monotonic() - started
    print(f"cluster: {binary.name} built in {took:.0f} s", flush=True)
    return took


def build_all(go_caches: Path | None = None) -> dict[str, float]:
    """Every binary; with ``go_caches``, Go's module and build caches are made there (an empty
    folder measures a build from nothing). The seconds each build took."""
    if subprocess.run(["go", "version"], capture_output=True, check=False).returncode != 0:
        sys.exit("cluster: Go (1.25 or newer) is needed to build the cluster")
    layout.BIN.mkdir(parents=True, exist_ok=True)
    environment = dict(layout.CHILD_ENVIRONMENT)
    environment["GOFLAGS"] = "-mod=mod -buildvcs=false"
    environment["GOTOOLCHAIN"] = "local"
    if go_caches:
        environment["GOMODCACHE"] = str(go_caches / "mod")
        environment["GOCACHE"] = str(go_caches / "build")
    times = {}
    for binary in BINARIES:
        took = build(binary, environment)
        if took is not None:
            times[binary.name] = took
    for component in KUBE_COMPONENTS:
        link = layout.BIN / component
        if not link.is_symlink():
            link.unlink(missing_ok=True)
            link.symlink_to("kube")
    return times


@dataclass(frozen=True)
class AddonImage:
    tag: str
    binary: str
    entrypoint: str


ADDON_IMAGES = (
    AddonImage(layout.PAUSE_IMAGE, "pause", "/pause"),
    AddonImage(layout.COREDNS_IMAGE, "coredns", "/coredns"),
    AddonImage(layout.TRAEFIK_IMAGE, "traefik", "/traefik"),
    AddonImage(layout.METRICS_SERVER_IMAGE, "metrics-server", "/metrics-server"),
)


def addon_archive() -> Path:
    """The add-on images (each the one static binary, as its entrypoint, run as a non-root
    user), in one docker-archive for containerd; remade when a binary changes."""
    archive = layout.IMAGES / "addons.tar"
    digest = hashlib.sha256()
    for image in ADDON_IMAGES:
        digest.update(image.tag.encode())
        digest.update((layout.BIN / f"{image.binary}.stamp").read_bytes())
    stamp = archive.with_suffix(".stamp")
    if archive.exists() and stamp.exists() and stamp.read_text() == digest.hexdigest():
        return archive
    layout.IMAGES.mkdir(parents=True, exist_ok=True)
    for image in ADDON_IMAGES:
        with tempfile.TemporaryDirectory(prefix="talent-addon-") as rootfs:
            shutil.copy2(layout.BIN / image.binary, Path(rootfs) / image.entrypoint.lstrip("/"))
            tar = subprocess.Popen(
                ["tar", "-C", rootfs, "--owner=0", "--group=0", "-c", "."], stdout=subprocess.PIPE
            )
            subprocess.run(
                [
                    "docker",
                    "import",
                    "--change",
                    f'ENTRYPOINT ["{image.entrypoint}"]',
                    "--change",
                    "USER 65532:65532",
                    "-",
                    image.tag,
                ],
                stdin=tar.stdout,
                check=True,
                stdout=subprocess.DEVNULL,
            )
            if tar.wait() != 0:
                sys.exit(f"cluster: packing {image.tag} failed")
    subprocess.run(
        ["docker", "save", "-o", str(archive), *(image.tag for image in ADDON_IMAGES)], check=True
    )
    stamp.write_text(digest.hexdigest())
    return archive
