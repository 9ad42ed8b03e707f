"""Every path, address, port and version of the test cluster, in one place.

Ports are chosen away from the native stack (8001-8003, 8080, 9092/9093, 5432, 1025, and free
ports from 20000 up) and the compose stack (the same, or 10000 higher). The node's address is
on an interface of its own (a bridge with no ports), so the API server and the kubelet never
listen on an address another machine can reach; pods live on a bridge of their own.
"""

import ipaddress
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "deploy" / "cluster"
GO_MODULES = HERE / "go"
ADDON_MANIFESTS = HERE / "manifests"
OVERLAY = ROOT / "deploy" / "k8s" / "overlays" / "local"

LOCAL = ROOT / ".local" / "cluster"
BIN = LOCAL / "bin"  # the built binaries (kept across `down`)
IMAGES = LOCAL / "images"  # the add-on image archives (kept across `down`)
PKI = LOCAL / "pki"
CONFIG = LOCAL / "config"
LOGS = LOCAL / "logs"
STATE = LOCAL / "state"  # etcd's data, containerd's root, the kubelet's root: gone after `down`
RUN = Path("/run/talent-k8s")  # sockets and pid files
ETCD_DATA = STATE / "etcd"
CONTAINERD_ROOT = STATE / "containerd"
KUBELET_ROOT = STATE / "kubelet"
CNI_CONFIG = CONFIG / "cni"
CNI_STATE = STATE / "cni"
CONTAINERD_SOCKET = RUN / "containerd.sock"
KUBECONFIG = CONFIG / "admin.kubeconfig"  # cluster-admin, for the runner and the tests

KUBERNETES_VERSION = "v1.34.4"
NODE_NAME = "talent-node"
NODE_INTERFACE = "talentk8s0"  # an interface of its own holding the node address
NODE_IP = "10.250.0.1"
BRIDGE = "talentcni0"
POD_CIDR = ipaddress.ip_network("10.244.0.0/16")
NODE_POD_CIDR = ipaddress.ip_network("10.244.0.0/24")
SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/16")
API_SERVICE_IP = "10.96.0.1"
DNS_SERVICE_IP = "10.96.0.10"
CLUSTER_DOMAIN = "cluster.local"

ETCD_CLIENT_PORT = 12379
ETCD_PEER_PORT = 12380
API_PORT = 16443
API_URL = f"https://{NODE_IP}:{API_PORT}"
NODE_PORT_RANGE = "14000-14099"
INGRESS_NODE_PORT = 14080  # the Ingress controller's web entrypoint, on the node address
INGRESS_URL = f"http://{NODE_IP}:{INGRESS_NODE_PORT}"
INGRESS_HOST = "careers.talent.test"  # the test overlay's Ingress host

# The add-on images, built here from their Go modules (see build.py).
PAUSE_IMAGE = "talent-cluster/pause:1"
COREDNS_IMAGE = "talent-cluster/coredns:1.15.0"
TRAEFIK_IMAGE = "talent-cluster/traefik:3.6.12"
METRICS_SERVER_IMAGE = "talent-cluster/metrics-server:0.8.1"

# Environment of every child process: nothing of the caller's proxy settings, loopback stays
# loopback.
CHILD_ENVIRONMENT = {
    name: value for name, value in os.environ.items() if not name.lower().endswith("_proxy")
}
