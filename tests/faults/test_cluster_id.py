"""The private test cluster's id must never look like an option to Kafka's storage tool."""

from collections.abc import Iterator

from devsupport.kafka import new_cluster_id

# 0xF8 makes the first base64 sextet 62, which URL-safe base64 writes as "-".
DASH_FIRST = bytes([0xF8]) + bytes(15)
PLAIN = bytes(16)


def draws(*values: bytes) -> Iterator[bytes]:
    yield from values


def test_a_cluster_id_that_would_start_with_a_dash_is_drawn_again() -> None:
    random_bytes = draws(DASH_FIRST, PLAIN)

    cluster_id = new_cluster_id(lambda: next(random_bytes))

    assert cluster_id == "AAAAAAAAAAAAAAAAAAAAAA"


def test_a_cluster_id_is_22_url_safe_characters() -> None:
    cluster_id = new_cluster_id()

    assert len(cluster_id) == 22
    assert not cluster_id.startswith("-")
