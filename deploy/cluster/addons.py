"""The cluster's add-ons (manifests/): CoreDNS, the Ingress controller (Traefik) and
metrics-server, applied and waited for."""

import time

from deploy.cluster import layout, processes

ADDONS = ("coredns", "traefik", "metrics-server")


def apply() -> float:
    started = time.monotonic()
    for name in ADDONS:
        processes.kubectl(
            "apply", "--server-side", "-f", str(layout.ADDON_MANIFESTS / f"{name}.yaml")
        )
    for name in ADDONS:
        processes.kubectl(
            "-n", "kube-system", "rollout", "status", f"deployment/{name}", "--timeout=300s"
        )
    processes.kubectl(
        "wait", "--for=condition=Available", "apiservice/v1beta1.metrics.k8s.io", "--timeout=180s"
    )
    took = time.monotonic() - started
    print(f"cluster: CoreDNS, Traefik and metrics-server ready in {took:.0f} s", flush=True)
    return took
