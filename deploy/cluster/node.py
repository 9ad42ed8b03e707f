"""The host side of the node: Debian packages, kernel settings, the node address and the
configuration files of the processes (see processes.py).

What `up` changes on the machine is written down first (STATE/host.json), so `down` can undo
exactly that: the sysctls it set, the interface it made.
"""

import json
import subprocess
import time
from pathlib import Path

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
