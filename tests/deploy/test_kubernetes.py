"""deploy/k8s, built with kustomize and checked offline against the Kubernetes 1.37 JSON schemas
(kubernetes-validate, installed from the lock file): the fast checks. tests/k8s runs the same
manifests on a real cluster (`make k8s-up k8s-test`)."""

import ipaddress
import subprocess
from typing import Any

import kubernetes_validate
import pytest
import yaml

from devsupport.infra import REPO_ROOT
from talent_shared.runtime import STARTUP_TIMEOUT_SECONDS

KUSTOMIZE = REPO_ROOT / ".local" / "tools" / "bin" / "kustomize"
KUBERNETES_VERSION = "1.37.0"
SERVICES = {"signup": 8001, "jobs": 8002, "notifications": 8003}
SITE = "site"  # the careers site's nginx (deploy/k8s/base/site.yaml): no settings, no migration
SITE_PORT = 8080
GRACEFUL_TIMEOUT_SECONDS = 15


def build(path: str) -> list[dict[str, Any]]:
    if not KUSTOMIZE.exists():
        pytest.fail("kustomize missing: `make test` (python -m deploy.local tools) installs it")
    output = subprocess.run(
        [str(KUSTOMIZE), "build", str(REPO_ROOT / "deploy" / "k8s" / path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [doc for doc in yaml.safe_load_all(output) if doc]


@pytest.fixture(scope="module", params=["base", "overlays/production"])
def manifests(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return build(request.param)


@pytest.fixture(scope="module")
def production() -> list[dict[str, Any]]:
    return build("overlays/production")


def of_kind(manifests: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}


def pod_spec(manifest: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = manifest["spec"]["template"]["spec"]
    return spec


def test_every_manifest_is_valid_for_kubernetes(manifests: list[dict[str, Any]]) -> None:
    for manifest in manifests:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def test_each_service_has_a_deployment_a_service_and_a_migration_job(
    manifests: list[dict[str, Any]],
) -> None:
    assert set(of_kind(manifests, "Deployment")) == {*SERVICES, SITE}
    assert set(of_kind(manifests, "Service")) == {*SERVICES, SITE}
    assert set(of_kind(manifests, "Job")) == {f"{name}-migrate" for name in SERVICES}


def test_service_probes_use_healthz_and_readyz(manifests: list[dict[str, Any]]) -> None:
    for name in SERVICES:
        [container] = pod_spec(of_kind(manifests, "Deployment")[name])["containers"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_site_is_live_on_healthz_and_ready_when_it_serves_a_page_of_its_own(
    manifests: list[dict[str, Any]],
) -> None:
    [container] = pod_spec(of_kind(manifests, "Deployment")[SITE])["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/preferences"
    assert container["ports"] == [{"name": "http", "containerPort": SITE_PORT}]


def test_site_writes_only_to_its_tmp_volume(manifests: list[dict[str, Any]]) -> None:
    spec = pod_spec(of_kind(manifests, "Deployment")[SITE])
    [container] = spec["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    assert "emptyDir" in {volume["name"]: volume for volume in spec["volumes"]}["tmp"]


def test_pods_run_as_non_root_on_a_read_only_filesystem_without_capabilities(
    manifests: list[dict[str, Any]],
) -> None:
    for workload in [
        *of_kind(manifests, "Deployment").values(),
        *of_kind(manifests, "Job").values(),
    ]:
        spec = pod_spec(workload)
        assert spec["securityContext"]["runAsNonRoot"] is True
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True
            assert security["allowPrivilegeEscalation"] is False
            assert security["capabilities"]["drop"] == ["ALL"]
            assert container["resources"]["requests"]
            assert container["resources"]["limits"]


def test_grace_period_exceeds_the_consumers_graceful_timeout(
    manifests: list[dict[str, Any]],
) -> None:
    config = of_kind(manifests, "ConfigMap")["talent-config"]["data"]
    assert int(config["GRACEFUL_TIMEOUT_SECONDS"]) == GRACEFUL_TIMEOUT_SECONDS
    for deployment in of_kind(manifests, "Deployment").values():
        assert pod_spec(deployment)["terminationGracePeriodSeconds"] > GRACEFUL_TIMEOUT_SECONDS + 5


def test_startup_probe_outlasts_the_wait_for_database_and_kafka(
    manifests: list[dict[str, Any]],
) -> None:
    """A service listens only once its database and Kafka answer, each waited for up to
    STARTUP_TIMEOUT_SECONDS; a shorter startup budget restarts it while it still waits."""
    for name in SERVICES:
        [container] = pod_spec(of_kind(manifests, "Deployment")[name])["containers"]
        probe = container["startupProbe"]
        assert probe["periodSeconds"] * probe["failureThreshold"] > 2 * STARTUP_TIMEOUT_SECONDS


def test_each_service_pod_migrates_before_it_starts(manifests: list[dict[str, Any]]) -> None:
    for name in SERVICES:
        spec = pod_spec(of_kind(manifests, "Deployment")[name])
        [init] = spec["initContainers"]
        [container] = spec["containers"]
        assert init["args"] == ["migrate"]
        assert init["image"] == container["image"]
        env = {item["name"]: item for item in init["env"]}
        assert (
            env["DATABASE_URL"] == {item["name"]: item for item in container["env"]}["DATABASE_URL"]
        )


def test_secrets_come_from_a_secret_reference(manifests: list[dict[str, Any]]) -> None:
    for name in SERVICES:
        [container] = pod_spec(of_kind(manifests, "Deployment")[name])["containers"]
        env = {item["name"]: item for item in container["env"]}
        for name in ("DATABASE_URL", "ADMIN_API_TOKEN", "TOKEN_SECRET"):
            assert env[name]["valueFrom"]["secretKeyRef"]["name"] == "talent-secrets"


def test_services_listen_on_their_contract_ports(manifests: list[dict[str, Any]]) -> None:
    for name, port in {**SERVICES, SITE: SITE_PORT}.items():
        service = of_kind(manifests, "Service")[name]
        assert service["spec"]["ports"][0]["port"] == port


def test_every_ingress_backend_is_a_service_port_of_the_build(
    manifests: list[dict[str, Any]],
) -> None:
    services = of_kind(manifests, "Service")
    [ingress] = of_kind(manifests, "Ingress").values()
    [rule] = ingress["spec"]["rules"]
    backends = {path["backend"]["service"]["name"] for path in rule["http"]["paths"]}
    assert backends == {*SERVICES, SITE}
    for path in rule["http"]["paths"]:
        backend = path["backend"]["service"]
        ports = [port["name"] for port in services[backend["name"]]["spec"]["ports"]]
        assert backend["port"]["name"] in ports


def test_production_raises_the_services_resources_not_the_sites(
    production: list[dict[str, Any]],
) -> None:
    deployments = of_kind(production, "Deployment")
    limits = {
        name: pod_spec(deployment)["containers"][0]["resources"]["limits"]["memory"]
        for name, deployment in deployments.items()
    }
    assert limits == {**dict.fromkeys(SERVICES, "768Mi"), SITE: "128Mi"}


def test_migrations_run_apart_from_the_service(manifests: list[dict[str, Any]]) -> None:
    config = of_kind(manifests, "ConfigMap")["talent-config"]["data"]
    assert config["MIGRATE_ON_START"] == "false"
    for job in of_kind(manifests, "Job").values():
        assert pod_spec(job)["containers"][0]["args"] == ["migrate"]


def test_production_runs_several_replicas_autoscaled_with_a_disruption_budget(
    production: list[dict[str, Any]],
) -> None:
    autoscalers = of_kind(production, "HorizontalPodAutoscaler")
    budgets = of_kind(production, "PodDisruptionBudget")
    for name, deployment in of_kind(production, "Deployment").items():
        assert deployment["spec"]["replicas"] >= 3
        assert autoscalers[name]["spec"]["scaleTargetRef"]["name"] == name
        assert autoscalers[name]["spec"]["minReplicas"] >= 2
        assert budgets[name]["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": name}


def test_production_lives_in_its_own_namespace(production: list[dict[str, Any]]) -> None:
    namespaced = [m for m in production if m["kind"] != "Namespace"]
    assert {m["metadata"]["namespace"] for m in namespaced} == {"talent-network"}


# What deploy/k8s/overlays/local (the test cluster's overlay, `make k8s-up`) may change of
# production: (kind, name) -> the JSON paths it replaces. Everything else must be identical.
LOCAL_CHANGES = {
    ("ConfigMap", "talent-config"): {
        "/data/KAFKA_REPLICATION_FACTOR",
        "/data/SMTP_HOST",
        "/data/SMTP_PORT",
        "/data/SMTP_STARTTLS",
        "/data/PUBLIC_BASE_URL",
    },
    ("Ingress", "talent-gateway"): {"/spec/rules/0/host", "/spec/tls/0/hosts/0"},
    **{
        ("Deployment", name): {"/spec/template/spec/containers/0/resources/requests/cpu"}
        for name in SERVICES
    },
}


def differences(left: Any, right: Any, path: str = "") -> set[str]:
    """The JSON paths at which two documents differ."""
    if isinstance(left, dict) and isinstance(right, dict):
        found: set[str] = set()
        for key in left.keys() | right.keys():
            found |= differences(left.get(key), right.get(key), f"{path}/{key}")
        return found
    if isinstance(left, list) and isinstance(right, list) and len(left) == len(right):
        found = set()
        for index, (a, b) in enumerate(zip(left, right, strict=True)):
            found |= differences(a, b, f"{path}/{index}")
        return found
    return set() if left == right else {path}


def test_local_overlay_changes_only_what_the_test_cluster_needs(
    production: list[dict[str, Any]],
) -> None:
    local = build("overlays/local")
    local_by_key = {(m["kind"], m["metadata"]["name"]): m for m in local}
    for manifest in production:
        key = (manifest["kind"], manifest["metadata"]["name"])
        assert key in local_by_key, key
        assert differences(manifest, local_by_key[key]) == LOCAL_CHANGES.get(key, set()), key


def test_local_overlay_adds_kafka_postgres_and_the_mail_sink_outside_the_app_namespace() -> None:
    local = build("overlays/local")
    added = {
        (m["metadata"].get("namespace"), m["metadata"]["name"])
        for m in of_kind(local, "Deployment").values()
        if m["metadata"]["namespace"] != "talent-network"
    }
    assert added == {
        ("kafka", "talent-kafka"),
        ("talent-infra", "talent-postgres"),
        ("talent-infra", "mailsink"),
    }
    for manifest in local:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def test_trusted_proxies_name_the_ingress_controllers_network(
    manifests: list[dict[str, Any]],
) -> None:
    config = of_kind(manifests, "ConfigMap")["talent-config"]["data"]
    network = ipaddress.ip_network(config["TRUSTED_PROXIES"])
    assert network.is_private
    assert network.prefixlen <= 16
