"""Fixtures of the Kubernetes tests: the cluster `make k8s-up` started."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from deploy.cluster import layout
from tests.k8s.cluster import Cluster, admin_token, cluster_ip, ingress_client


@pytest.fixture(scope="session")
async def cluster() -> AsyncIterator[Cluster]:
    if not layout.KUBECONFIG.exists():
        pytest.fail("no test cluster: run `make k8s-up` first")
    site = ingress_client()
    mail_address = cluster_ip("talent-infra", "mailsink")
    mail = httpx.AsyncClient(base_url=f"http://{mail_address}:8025", timeout=30)
    try:
        yield Cluster(
            site=site, mail=mail, admin_headers={"Authorization": f"Bearer {admin_token()}"}
        )
    finally:
        await site.aclose()
        await mail.aclose()


# Lightest first; the autoscaler's test last, since it leaves jobs scaled out for a while.
ORDER = (
    "test_workloads",
    "test_ingress",
    "test_pod_deletion",
    "test_rolling_update",
    "test_autoscaling",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Order this folder's tests (a conftest's hook sees the whole session: others keep
    their places)."""
    here = Path(__file__).parent
    ours = [index for index, item in enumerate(items) if item.path.parent == here]

    def rank(item: pytest.Item) -> int:
        module = item.path.stem
        return ORDER.index(module) if module in ORDER else len(ORDER)

    for index, item in zip(ours, sorted((items[i] for i in ours), key=rank), strict=True):
        items[index] = item
