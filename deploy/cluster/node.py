"""The host side of the node: Debian packages, kernel settings, the node address, the
configuration files, and the processes (etcd, the control plane, containerd, the kubelet,
kube-proxy), each started in its own session with its log in .local/cluster/logs.

What `up` changes on the machine is written down first (STATE/host.json), so `down` can undo
exactly that: the sysctls it set, the interface it made.
"""

import json
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

import yaml

from deploy.cluster import layout

PACKAGES = {  # Debian package: a file it installs
    "etcd-server": "/usr/bin/etcd",
    "containerd": "/usr/bin/containerd",
    "runc": "/usr/sbin/runc",
    "containernetworking-plugins": "/usr/lib/cni/bridge",
    "conntrack": "/usr/sbin/conntrack",
    "iptables": "/usr/sbin/iptables",
}
# Bridged pod traffic must pass iptables for Services to reach pods on the same bridge.
SYSCTLS = {"net/bridge/bridge-nf-call-iptables": "1", "net/ipv4/ip_forward": "1"}
HOST_RECORD = layout.STATE / "host.json"
CLUSTER_ROUTES = (str(layout.SERVICE_CIDR), str(layout.POD_CIDR))


def ensure_packages() -> None:
    missing = [name for name, path in PACKAGES.items() if not Path(path).exists()]
    if not missing:
        return
    started = time.monotonic()
    print(f"cluster: installing {' '.join(missing)}", flush=True)
    environment = {**layout.CHILD_ENVIRONMENT, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(
        ["apt-get", "update", "-q"], check=True, stdout=subprocess.DEVNULL, env=environment
    )
    subprocess.run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing],
        check=True,
        stdout=subprocess.DEVNULL,
        env=environment,
    )
    print(f"cluster: packages installed in {time.monotonic() - started:.0f} s", flush=True)


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


def prepare_host() -> None:
    """The sysctls and the node address; what was there before is recorded for `down`."""
    layout.STATE.mkdir(parents=True, exist_ok=True)
    record: dict[str, object] = (
        json.loads(HOST_RECORD.read_text()) if HOST_RECORD.exists() else {"sysctls": {}}
    )
    sysctls: dict[str, str] = record["sysctls"]  # type: ignore[assignment]
    for name, value in SYSCTLS.items():
        path = Path("/proc/sys") / name
        current = path.read_text().strip()
        if current != value:
            sysctls.setdefault(name, current)
            path.write_text(value)
    if ip("link", "show", layout.NODE_INTERFACE, check=False).returncode != 0:
        # A bridge with no ports: this kernel has no dummy interfaces.
        ip("link", "add", layout.NODE_INTERFACE, "type", "bridge")
        record["interface"] = layout.NODE_INTERFACE
    ip("addr", "replace", f"{layout.NODE_IP}/32", "dev", layout.NODE_INTERFACE)
    ip("link", "set", layout.NODE_INTERFACE, "up")
    # The cluster's addresses never take the default route: they lead to the node's own
    # interface (a bridge with no ports), where kube-proxy's DNAT sends Service traffic on to
    # a pod and anything else (a Service not programmed yet, a pod gone) ends. A blackhole
    # route would refuse the node's own Service traffic before the DNAT.
    for network in CLUSTER_ROUTES:
        ip("route", "replace", network, "dev", layout.NODE_INTERFACE)
    HOST_RECORD.write_text(json.dumps(record, indent=2))


def write(path: Path, text: str) -> None:
    """Write ``text`` unless ``path`` holds it already: kube-proxy exits when its configuration
    file changes, even to the same content."""
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def write_configs() -> None:
    """containerd's, the CNI network's, the kubelet's and kube-proxy's configuration."""
    for folder in (layout.CONFIG, layout.CNI_CONFIG, layout.LOGS, layout.RUN, layout.CNI_STATE):
        folder.mkdir(parents=True, exist_ok=True)
    pki = layout.PKI
    write(
        layout.CONFIG / "containerd.toml",
        f"""version = 2
root = "{layout.CONTAINERD_ROOT}"
state = "{layout.RUN / "containerd"}"
[grpc]
  address = "{layout.CONTAINERD_SOCKET}"
[ttrpc]
  address = "{layout.RUN / "containerd.ttrpc.sock"}"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "docker.io/{layout.PAUSE_IMAGE}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  netns_mounts_under_state_dir = true
  # This machine's root lacks CAP_SYS_RESOURCE: no process may lower its OOM score, so a
  # container's is kept at containerd's own (the kubelet asks -998 for a pod sandbox).
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{layout.CNI_CONFIG}"
""",
    )
    network = {
        "cniVersion": "1.0.0",
        "name": "talent-pods",
        "plugins": [
            {
                "type": "bridge",
                "bridge": layout.BRIDGE,
                "isGateway": True,
                "ipMasq": False,  # pods talk to each other and to the node, never beyond
                "hairpinMode": True,  # a pod reaches itself through its Service
                "ipam": {
                    "type": "host-local",
                    "dataDir": str(layout.CNI_STATE),
                    "ranges": [[{"subnet": str(layout.NODE_POD_CIDR)}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                },
            },
            # Accepts the pods' traffic in FORWARD, whatever the chain's policy (dockerd
            # sets it to DROP); its rules go with each pod.
            {"type": "firewall", "backend": "iptables"},
        ],
    }
    write(layout.CNI_CONFIG / "10-talent-pods.conflist", json.dumps(network, indent=2))
    # The pods' resolver configuration for dnsPolicy Default: no upstream, nothing leaves.
    write(layout.CONFIG / "resolv.conf", "options ndots:1\n")
    kubelet = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": layout.NODE_IP,
        "healthzBindAddress": "127.0.0.1",
        "readOnlyPort": 0,
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(pki / "ca.crt")},
        },
        "authorization": {"mode": "Webhook"},
        "tlsCertFile": str(pki / "kubelet-server.crt"),
        "tlsPrivateKeyFile": str(pki / "kubelet-server.key"),
        "cgroupDriver": "cgroupfs",
        "failCgroupV1": False,  # this machine runs cgroup v1 (1.34 still allows it)
        "containerRuntimeEndpoint": f"unix://{layout.CONTAINERD_SOCKET}",
        "clusterDNS": [layout.DNS_SERVICE_IP],
        "clusterDomain": layout.CLUSTER_DOMAIN,
        "resolvConf": str(layout.CONFIG / "resolv.conf"),
        "failSwapOn": False,
        "serializeImagePulls": False,
        "imageGCHighThresholdPercent": 100,  # the images are loaded, not pulled: keep them
        "evictionHard": {
            "memory.available": "200Mi",
            "nodefs.available": "5%",
            "imagefs.available": "5%",
        },
        "maxPods": 110,
        "podPidsLimit": 4096,
        "shutdownGracePeriod": "0s",
    }
    write(layout.CONFIG / "kubelet.yaml", yaml.safe_dump(kubelet))
    proxy = {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "mode": "iptables",
        "clientConnection": {"kubeconfig": str(layout.CONFIG / "kube-proxy.kubeconfig")},
        "hostnameOverride": layout.NODE_NAME,
        "clusterCIDR": str(layout.POD_CIDR),
        # Node ports on the node address only: never on loopback, where the native stack's
        # ports live.
        "nodePortAddresses": [f"{layout.NODE_IP}/32"],
        "iptables": {"localhostNodePorts": False},
        "healthzBindAddress": "127.0.0.1:10256",
        "metricsBindAddress": "127.0.0.1:10249",
        # Leave the machine's conntrack table size and timeouts alone (0: not set).
        "conntrack": {
            "maxPerCore": 0,
            "tcpEstablishedTimeout": "0s",
            "tcpCloseWaitTimeout": "0s",
        },
    }
    write(layout.CONFIG / "kube-proxy.yaml", yaml.safe_dump(proxy))


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


def start(process: Process) -> None:
    if running(process):
        return
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


def wait_until(what: str, check: Callable[[], bool], process: Process, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if not running(process):
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
        start(process)
        wait_until(f"{process.name} ready", readiness(process.name), process, timeout=120)
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
