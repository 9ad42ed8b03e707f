"""python -m deploy.cluster up|down|status|build|kubectl (see __init__.py)."""

import argparse
import os
import sys
import time
from pathlib import Path

from deploy.cluster import addons, build, images, layout, node, pki, processes, teardown, workload


def up() -> None:
    started = time.monotonic()
    times: dict[str, float] = {}
    node.ensure_packages()
    times.update({f"build {name}": took for name, took in build.build_all().items()})
    archive = build.addon_archive()
    fresh = not any(processes.running(process) for process in processes.processes())
    if fresh:
        pki.create()
    node.prepare_host()
    node.write_configs()
    times.update({f"start {name}": took for name, took in processes.start_all().items()})
    waited = time.monotonic()
    processes.kubectl("wait", "--for=condition=Ready", f"node/{layout.NODE_NAME}", "--timeout=120s")
    times["node Ready"] = time.monotonic() - waited
    times["load images"] = images.load(archive, os.environ.get("TAG", "latest"))
    times["add-ons ready"] = addons.apply()
    times.update({f"overlay: {what}": took for what, took in workload.apply().items()})
    times["k8s-up in all"] = time.monotonic() - started
    print("== cluster: times")
    for what, took in times.items():
        print(f"  {what:<40} {took:7.1f} s")
    print(
        f"cluster: up. kubectl: python -m deploy.cluster kubectl ...; the careers site: "
        f"{layout.INGRESS_URL} with Host: {layout.INGRESS_HOST}"
    )


def status() -> None:
    for process in processes.processes():
        pid = processes.running(process)
        print(f"  {process.name:<26} {'running, pid ' + str(pid) if pid else 'stopped'}")


def kubectl(arguments: list[str]) -> None:
    command = [str(layout.BIN / "kubectl"), f"--kubeconfig={layout.KUBECONFIG}", *arguments]
    os.execv(command[0], command)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m deploy.cluster", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="build what is missing, start the node, apply the overlay")
    commands.add_parser("down", help="stop everything; undo every change to the machine")
    commands.add_parser("status", help="which of the node's processes run")
    built = commands.add_parser("build", help="only build the binaries")
    built.add_argument(
        "--go-caches",
        type=Path,
        help="Go's module and build caches here (an empty folder measures a build from nothing)",
    )
    commands.add_parser("kubectl", help="kubectl against the cluster", add_help=False)
    arguments, rest = parser.parse_known_args()
    if os.geteuid() != 0 and arguments.command in ("up", "down"):
        sys.exit("cluster: a node needs root (mounts, interfaces, iptables, cgroups)")
    if arguments.command == "up":
        up()
    elif arguments.command == "down":
        teardown.down()
    elif arguments.command == "status":
        status()
    elif arguments.command == "build":
        for name, took in build.build_all(arguments.go_caches).items():
            print(f"  {name:<16} {took:6.0f} s")
    elif arguments.command == "kubectl":
        kubectl(rest)


if __name__ == "__main__":
    main()
