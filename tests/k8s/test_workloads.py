"""The test overlay on the real cluster: every workload up, pod security enforced."""

import pytest

from deploy.cluster.workload import NAMESPACE
from tests.k8s.cluster import DEPLOYMENTS, SERVICES, kubectl, kubectl_json

pytestmark = pytest.mark.k8s


@pytest.mark.parametrize("deployment", DEPLOYMENTS)
def test_deployment_is_ready_with_every_replica(deployment: str) -> None:
    found = kubectl_json("-n", NAMESPACE, "get", "deployment", deployment)
    wanted = found["spec"]["replicas"]
    status = found["status"]
    print(f"{deployment}: {status.get('readyReplicas', 0)} of {wanted} replicas ready")
    assert wanted >= 3
    assert status.get("readyReplicas") == wanted
    assert status.get("updatedReplicas") == wanted


@pytest.mark.parametrize("service", SERVICES)
def test_migration_job_completed(service: str) -> None:
    job = kubectl_json("-n", NAMESPACE, "get", "job", f"{service}-migrate")
    conditions = {c["type"]: c["status"] for c in job["status"].get("conditions", [])}
    print(
        f"{service}-migrate: succeeded {job['status'].get('succeeded')}, "
        f"failed {job['status'].get('failed', 0)}"
    )
    assert conditions.get("Complete") == "True"
    assert job["status"].get("succeeded") == 1


def test_namespace_enforces_restricted_pod_security() -> None:
    namespace = kubectl_json("get", "namespace", NAMESPACE)
    labels = namespace["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


NON_COMPLIANT_POD = """
apiVersion: v1
kind: Pod
metadata:
  name: runs-as-root
spec:
  containers:
    - name: shell
      image: talent-network/jobs:1.0.0
      securityContext:
        runAsUser: 0
        allowPrivilegeEscalation: true
"""


def test_api_server_refuses_a_pod_that_breaks_the_restricted_policy() -> None:
    answer = kubectl(
        "-n",
        NAMESPACE,
        "create",
        "--dry-run=server",
        "-f",
        "-",
        check=False,
        input_text=NON_COMPLIANT_POD,
    )
    print(answer.strip())
    assert 'violates PodSecurity "restricted:latest"' in answer
    assert "runAsNonRoot" in answer
    assert "allowPrivilegeEscalation" in answer


def test_every_service_pod_runs_non_root_on_a_read_only_root() -> None:
    listed = kubectl_json("-n", NAMESPACE, "get", "pods")["items"]
    running = [pod for pod in listed if pod["status"]["phase"] == "Running"]
    assert running
    for pod in running:
        [container] = pod["spec"]["containers"]
        assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
