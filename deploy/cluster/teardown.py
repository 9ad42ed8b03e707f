"""`down`: the node stopped and every trace of it off the machine.

In order: the kubelet stops (so it restarts nothing); `kube cri-reset` has containerd stop and
remove every pod sandbox, which runs the CNI plugins' DEL (each pod's veth, address and
firewall rules) and unmounts its volumes; `kube-proxy --cleanup` removes its iptables chains;
the rest stops. Then what may be left after a crash is swept: shims of this containerd, mounts
under the state folders, the bridge and the node interface (and the routes on it), the
kubelet's and the CNI plugins' chains; the sysctls `up` changed get their old values back, and
the state folders go.
"""

import json
import os
import shlex
import shutil
import signal
import subprocess
from pathlib import Path

from deploy.cluster import layout, node, processes

NODE_CHAINS = ("KUBE-", "CNI-")


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def _stop_pods() -> None:
    containerd = next(p for p in processes.processes() if p.name == "containerd")
    if processes.running(containerd):
        result = _run(str(layout.BIN / "kube"), "cri-reset", f"unix://{layout.CONTAINERD_SOCKET}")
        print(f"cluster: {(result.stdout + result.stderr).strip()}", flush=True)


def _kill_shims() -> None:
    """containerd-shim processes of this node's containerd (it names its socket to them)."""
    socket = str(layout.CONTAINERD_SOCKET).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"containerd-shim-runc-v2") and socket in argv:
            os.kill(int(entry.name), signal.SIGKILL)


def _unmount_state() -> None:
    roots = (str(layout.STATE), str(layout.RUN))
    with open("/proc/self/mounts") as mounts:
        targets = [line.split()[1].encode().decode("unicode_escape") for line in mounts]
    for target in sorted((t for t in targets if t.startswith(roots)), key=len, reverse=True):
        _run("umount", "--lazy", target)


def _remove_chains() -> None:
    """Every chain the node made (KUBE-*: the kubelet's canaries and localnet firewall, any
    kube-proxy left; CNI-*: the firewall plugin's) and every rule that jumps to one, in both
    address families. Nothing else on a machine names its chains so."""
    for command in ("iptables", "ip6tables"):
        for table in ("filter", "nat", "mangle"):
            rules = _run(command, "-t", table, "-S").stdout.splitlines()
            for rule in rules:
                words = shlex.split(rule)
                if words[:1] == ["-A"] and "-j" in words:
                    target = words[words.index("-j") + 1]
                    if target.startswith(NODE_CHAINS):
                        _run(command, "-t", table, "-D", *words[1:])
            chains = [r.split()[1] for r in rules if r.startswith("-N ")]
            chains = [chain for chain in chains if chain.startswith(NODE_CHAINS)]
            for chain in chains:
                _run(command, "-t", table, "-F", chain)
            for chain in chains:
                _run(command, "-t", table, "-X", chain)


def _restore_host() -> None:
    if node.HOST_RECORD.exists():
        record = json.loads(node.HOST_RECORD.read_text())
        docker_runs = _run("pgrep", "-x", "dockerd").returncode == 0
        for name, value in record.get("sysctls", {}).items():
            # dockerd turned forwarding on for its own containers and needs it still.
            if name == "net/ipv4/ip_forward" and docker_runs:
                continue
            (Path("/proc/sys") / name).write_text(value)
    for interface in (layout.BRIDGE, layout.NODE_INTERFACE):
        if node.ip("link", "show", interface, check=False).returncode == 0:
            node.ip("link", "delete", interface)


def down() -> None:
    by_name = {process.name: process for process in processes.processes()}
    processes.stop(by_name["kubelet"])
    _stop_pods()
    processes.stop(by_name["kube-proxy"])
    if (layout.BIN / "kube-proxy").exists():
        _run(str(layout.BIN / "kube-proxy"), "--cleanup")
    for name in (
        "containerd",
        "kube-controller-manager",
        "kube-scheduler",
        "kube-apiserver",
        "etcd",
    ):
        processes.stop(by_name[name])
    _kill_shims()
    _unmount_state()
    _remove_chains()
    _restore_host()
    shutil.rmtree(layout.STATE, ignore_errors=True)
    shutil.rmtree(layout.RUN, ignore_errors=True)
    shutil.rmtree(layout.PKI, ignore_errors=True)
    shutil.rmtree(layout.CONFIG, ignore_errors=True)
    print("cluster: down; processes stopped, mounts, interfaces and rules removed", flush=True)
