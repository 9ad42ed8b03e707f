"""Free ports for the processes and servers the tests and benchmarks start."""

import random
import socket
from pathlib import Path

EPHEMERAL_PORTS = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST_TEST_PORT = 20_000
# Ports already handed out by this process: a port is free until its owner binds it, seconds later.
_handed_out: set[int] = set()


def free_port() -> int:
    """A port nothing listens on, chosen below the kernel's ephemeral range: a port from that
    range can be taken by any outgoing connection on the machine between this check and the
    service's bind, seconds later (seen in CI as "address already in use")."""
    first_ephemeral = int(EPHEMERAL_PORTS.read_text().split()[0]) if EPHEMERAL_PORTS.exists() else 0
    for _ in range(200 if first_ephemeral > LOWEST_TEST_PORT else 0):
        port = random.randrange(LOWEST_TEST_PORT, first_ephemeral)
        if port not in _handed_out and _bindable(port):
            _handed_out.add(port)
            return port
    with socket.socket() as probe:  # no room below the range: let the kernel choose
        probe.bind(("127.0.0.1", 0))
        chosen: int = probe.getsockname()[1]
        return chosen


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
