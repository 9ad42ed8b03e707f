"""Ports for test processes: never in the kernel's ephemeral range, never handed out twice."""

from devsupport.ports import EPHEMERAL_PORTS, free_port


def first_ephemeral_port() -> int:
    return int(EPHEMERAL_PORTS.read_text().split()[0])


def test_a_free_port_lies_below_the_ephemeral_range() -> None:
    assert free_port() < first_ephemeral_port()


def test_a_free_port_is_not_handed_out_twice() -> None:
    ports = [free_port() for _ in range(500)]

    assert len(set(ports)) == len(ports)
