"""The test overlay (deploy/k8s/overlays/local) on the cluster: its Secrets, made here, then
every manifest; then waited for until every migration Job completed and every Deployment is
available."""

import json
import secrets
import time
from typing import Any

import yaml

from deploy.cluster import layout, processes

NAMESPACE = "talent-network"
SECRETS_FILE = layout.CONFIG / "secrets.json"  # what the tests need to know (the admin token)


def manifests() -> list[dict[str, Any]]:
    built = processes.kubectl("kustomize", str(layout.OVERLAY))
    return [document for document in yaml.safe_load_all(built) if document]


def cluster_secrets() -> dict[str, str]:
    """This cluster's secrets, made once per `up` and kept beside its kubeconfig."""
    if SECRETS_FILE.exists():
        kept: dict[str, str] = json.loads(SECRETS_FILE.read_text())
        return kept
    values = {
        name: secrets.token_urlsafe(24)
        for name in ("ADMIN_API_TOKEN", "TOKEN_SECRET", "POSTGRES_PASSWORD")
    }
    SECRETS_FILE.write_text(json.dumps(values, indent=2))
    SECRETS_FILE.chmod(0o600)
    return values


def secret_manifests() -> list[dict[str, Any]]:
    values = cluster_secrets()
    database = (
        f"postgresql://talent:{values['POSTGRES_PASSWORD']}"
        "@talent-postgres.talent-infra.svc:5432/{}"
    )
    service_secrets = {
        "ADMIN_API_TOKEN": values["ADMIN_API_TOKEN"],
        "TOKEN_SECRET": values["TOKEN_SECRET"],
        **{
            f"{name.upper()}_DATABASE_URL": database.format(name)
            for name in ("signup", "jobs", "notifications")
        },
    }
    tls = {
        "tls.crt": (layout.PKI / "ingress.crt").read_text(),
        "tls.key": (layout.PKI / "ingress.key").read_text(),
    }
    return [
        _secret(NAMESPACE, "talent-secrets", service_secrets),
        _secret(NAMESPACE, "talent-careers-tls", tls, "kubernetes.io/tls"),
        _secret("talent-infra", "postgres", {"POSTGRES_PASSWORD": values["POSTGRES_PASSWORD"]}),
    ]


def _secret(
    namespace: str, name: str, data: dict[str, str], kind: str = "Opaque"
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": kind,
        "stringData": data,
    }


def apply_documents(documents: list[dict[str, Any]]) -> None:
    processes.kubectl(
        "apply",
        "--server-side",
        "--force-conflicts",
        "-f",
        "-",
        input_text=yaml.safe_dump_all(documents),
    )


def apply() -> dict[str, float]:
    """Namespaces, Secrets, then the rest; the seconds until the Jobs completed and until the
    Deployments were available."""
    started = time.monotonic()
    documents = manifests()
    namespaces = [d for d in documents if d["kind"] == "Namespace"]
    apply_documents(namespaces)
    apply_documents(secret_manifests())
    apply_documents([d for d in documents if d["kind"] != "Namespace"])
    times = {}
    for infra_namespace in ("kafka", "talent-infra"):
        processes.kubectl(
            "-n",
            infra_namespace,
            "wait",
            "--for=condition=Available",
            "deployment",
            "--all",
            "--timeout=300s",
        )
    times["infrastructure available"] = time.monotonic() - started
    processes.kubectl(
        "-n", NAMESPACE, "wait", "--for=condition=Complete", "job", "--all", "--timeout=600s"
    )
    times["migration jobs complete"] = time.monotonic() - started
    for document in documents:
        if document["kind"] == "Deployment" and document["metadata"]["namespace"] == NAMESPACE:
            processes.kubectl(
                "-n",
                NAMESPACE,
                "rollout",
                "status",
                f"deployment/{document['metadata']['name']}",
                "--timeout=600s",
            )
    times["deployments available"] = time.monotonic() - started
    for what, took in times.items():
        print(f"cluster: overlay applied, {what} after {took:.0f} s", flush=True)
    return times
