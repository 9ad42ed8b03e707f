"""The node's processes (etcd, the control plane, containerd, the kubelet, kube-proxy), each
started in its own session with its log in .local/cluster/logs, their readiness, and the clients
that talk to them (kubectl, ctr)."""

import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from deploy.cluster import layout


@dataclass(frozen=True)
class Process:
    name: str
    argv: list[str]

    @property
    def pid_file(self) -> Path:
        return layout.RUN / f"{self.name}.pid"

    @property
    def log(self) -> Path:
        return layout.LOGS / f"{self.name}.log"


def processes() -> list[Process]:
    """The node's processes, in the order they start."""
    pki, config, bin_ = layout.PKI, layout.CONFIG, layout.BIN
    etcd_url = f"https://127.0.0.1:{layout.ETCD_CLIENT_PORT}"
    peer_url = f"http://127.0.0.1:{layout.ETCD_PEER_PORT}"
    authn = ["--authentication-kubeconfig={0}", "--authorization-kubeconfig={0}"]

    def kubeconfig(name: str) -> list[str]:
        path = config / f"{name}.kubeconfig"
        return [f"--kubeconfig={path}", *(flag.format(path) for flag in authn)]

    return [
        Process(
            "etcd",
            [
                "/usr/bin/etcd",
                "--name=talent",
                f"--data-dir={layout.ETCD_DATA}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=talent={peer_url}",
                f"--cert-file={pki / 'etcd-server.crt'}",
                f"--key-file={pki / 'etcd-server.key'}",
                "--client-cert-auth",
                f"--trusted-ca-file={pki / 'etcd-ca.crt'}",
                "--snapshot-count=10000",
                "--quota-backend-bytes=2147483648",
            ],
        ),
        Process(
            "kube-apiserver",
            [
                str(bin_ / "kube-apiserver"),
                f"--etcd-servers={etcd_url}",
                f"--etcd-cafile={pki / 'etcd-ca.crt'}",
                f"--etcd-certfile={pki / 'apiserver-etcd-client.crt'}",
                f"--etcd-keyfile={pki / 'apiserver-etcd-client.key'}",
                f"--bind-address={layout.NODE_IP}",
                f"--advertise-address={layout.NODE_IP}",
                f"--secure-port={layout.API_PORT}",
                f"--service-cluster-ip-range={layout.SERVICE_CIDR}",
                f"--service-node-port-range={layout.NODE_PORT_RANGE}",
                f"--client-ca-file={pki / 'ca.crt'}",
                f"--tls-cert-file={pki / 'apiserver.crt'}",
                f"--tls-private-key-file={pki / 'apiserver.key'}",
                f"--kubelet-client-certificate={pki / 'apiserver-kubelet-client.crt'}",
                f"--kubelet-client-key={pki / 'apiserver-kubelet-client.key'}",
                f"--kubelet-certificate-authority={pki / 'ca.crt'}",
                "--kubelet-preferred-address-types=InternalIP",
                f"--service-account-issuer=https://kubernetes.default.svc.{layout.CLUSTER_DOMAIN}",
                f"--service-account-key-file={pki / 'service-accounts.pub'}",
                f"--service-account-signing-key-file={pki / 'service-accounts.key'}",
                "--authorization-mode=Node,RBAC",
                "--enable-admission-plugins=NodeRestriction",
                f"--requestheader-client-ca-file={pki / 'front-proxy-ca.crt'}",
                "--requestheader-allowed-names=front-proxy-client",
                "--requestheader-username-headers=X-Remote-User",
                "--requestheader-group-headers=X-Remote-Group",
                "--requestheader-extra-headers-prefix=X-Remote-Extra-",
                f"--proxy-client-cert-file={pki / 'front-proxy-client.crt'}",
                f"--proxy-client-key-file={pki / 'front-proxy-client.key'}",
                "--enable-aggregator-routing=true",
                "--profiling=false",
            ],
        ),
        Process(
            "kube-controller-manager",
            [
                str(bin_ / "kube-controller-manager"),
                *kubeconfig("controller-manager"),
                "--bind-address=127.0.0.1",
                "--leader-elect=false",
                f"--cluster-signing-cert-file={pki / 'ca.crt'}",
                f"--cluster-signing-key-file={pki / 'ca.key'}",
                f"--root-ca-file={pki / 'ca.crt'}",
                f"--service-account-private-key-file={pki / 'service-accounts.key'}",
                "--use-service-account-credentials=true",
                f"--requestheader-client-ca-file={pki / 'front-proxy-ca.crt'}",
                "--allocate-node-cidrs=true",
                f"--cluster-cidr={layout.POD_CIDR}",
                "--node-cidr-mask-size=24",
                f"--service-cluster-ip-range={layout.SERVICE_CIDR}",
                "--horizontal-pod-autoscaler-sync-period=10s",
                "--profiling=false",
            ],
        ),
        Process(
            "kube-scheduler",
            [
                str(bin_ / "kube-scheduler"),
                *kubeconfig("scheduler"),
                "--bind-address=127.0.0.1",
                "--leader-elect=false",
                "--profiling=false",
            ],
        ),
        Process(
            "containerd",
            [
                "/usr/bin/containerd",
                f"--config={config / 'containerd.toml'}",
            ],
        ),
        Process(
            "kubelet",
            [
                str(bin_ / "kubelet"),
                f"--config={config / 'kubelet.yaml'}",
                f"--kubeconfig={config / 'kubelet.kubeconfig'}",
                f"--root-dir={layout.KUBELET_ROOT}",
                f"--hostname-override={layout.NODE_NAME}",
                f"--node-ip={layout.NODE_IP}",
            ],
        ),
        Process(
            "kube-proxy",
            [
                str(bin_ / "kube-proxy"),
                f"--config={config / 'kube-proxy.yaml'}",
            ],
        ),
    ]


def running(process: Process) -> int | None:
    """The pid of ``process`` when it runs (its pid file names a live process of that name)."""
    try:
        pid = int(process.pid_file.read_text())
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
    except (OSError, ValueError):
        return None
    return pid if Path(command).name == Path(process.argv[0]).name else None


def start(process: Process) -> subprocess.Popen[bytes] | None:
    """The child started, or None when the process runs already."""
    if running(process):
        return None
    with process.log.open("ab") as log:
        child = subprocess.Popen(
            process.argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=layout.CHILD_ENVIRONMENT,
            cwd=layout.STATE,
        )
    process.pid_file.write_text(str(child.pid))
    return child


def stop(process: Process, timeout: float = 30) -> None:
    pid = running(process)
    if pid:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while running(process) and time.monotonic() < deadline:
            time.sleep(0.2)
        if running(process):
            os.kill(pid, signal.SIGKILL)
            while running(process):
                time.sleep(0.1)
    process.pid_file.unlink(missing_ok=True)


def wait_until(
    what: str, check: Callable[[], bool], process: Process, child: subprocess.Popen[bytes] | None,
    timeout: float,
) -> None:  # fmt: skip
    """Until ``check`` passes. Whether the process stopped is asked of the child just started
    (its exit status) when there is one: once, right after its start, the pid file's check took
    a live kube-proxy for a stopped one (an empty log tail, and the process logged on)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if (child.poll() is not None) if child else not running(process):
            tail = process.log.read_text(errors="replace").splitlines()[-30:]
            sys.exit(f"cluster: {process.name} stopped; its log ends:\n" + "\n".join(tail))
        time.sleep(0.5)
    sys.exit(f"cluster: {what} not within {timeout:.0f} s (see {process.log})")


def https_ok(url: str, certificate: str, ca: str = "ca.crt") -> bool:
    """GET ``url`` with the client certificate <certificate>.crt: answered 200?"""
    context = ssl.create_default_context(cafile=str(layout.PKI / ca))
    context.load_cert_chain(layout.PKI / f"{certificate}.crt", layout.PKI / f"{certificate}.key")
    try:
        with urllib.request.urlopen(url, context=context, timeout=3) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def readiness(name: str) -> Callable[[], bool]:
    etcd = f"https://127.0.0.1:{layout.ETCD_CLIENT_PORT}/health"
    checks: dict[str, Callable[[], bool]] = {
        "etcd": lambda: https_ok(etcd, "apiserver-etcd-client", "etcd-ca.crt"),
        "kube-apiserver": lambda: https_ok(f"{layout.API_URL}/readyz", "admin"),
        "kube-controller-manager": lambda: _self_signed_ok("https://127.0.0.1:10257/healthz"),
        "kube-scheduler": lambda: _self_signed_ok("https://127.0.0.1:10259/healthz"),
        "containerd": lambda: layout.CONTAINERD_SOCKET.exists() and ctr("version").returncode == 0,
        "kubelet": lambda: http_ok("http://127.0.0.1:10248/healthz"),
        "kube-proxy": lambda: http_ok("http://127.0.0.1:10256/healthz"),
    }
    return checks[name]


def _self_signed_ok(url: str) -> bool:
    """controller-manager and scheduler serve /healthz to anyone, on a certificate they made
    themselves: only whether they answer is asked here."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, context=context, timeout=3) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def ctr(*args: str, stdin: IO[bytes] | None = None) -> subprocess.CompletedProcess[bytes]:
    """containerd's own client, on the node's containerd, in the CRI's namespace."""
    return subprocess.run(
        ["ctr", f"--address={layout.CONTAINERD_SOCKET}", "--namespace=k8s.io", *args],
        capture_output=True,
        check=False,
        stdin=stdin,
    )


def start_all() -> dict[str, float]:
    """Start each process and wait until it answers; the seconds each took."""
    times = {}
    for process in processes():
        started = time.monotonic()
        child = start(process)
        wait_until(f"{process.name} ready", readiness(process.name), process, child, timeout=120)
        times[process.name] = time.monotonic() - started
        print(f"cluster: {process.name} up in {times[process.name]:.1f} s", flush=True)
    return times


def kubectl(*args: str, check: bool = True, input_text: str | None = None) -> str:
    result = subprocess.run(
        [str(layout.BIN / "kubectl"), f"--kubeconfig={layout.KUBECONFIG}", *args],
        capture_output=True,
        text=True,
        check=False,
        input=input_text,
    )
    if check and result.returncode != 0:
        sys.exit(f"cluster: kubectl {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout
