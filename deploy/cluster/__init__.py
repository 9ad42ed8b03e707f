"""A single-node Kubernetes cluster on this machine, built from source: `make k8s-up`.

    python -m deploy.cluster up      build what is missing, start the node, apply the test overlay
    python -m deploy.cluster down    stop everything and undo every change to the machine
    python -m deploy.cluster status  what runs
    python -m deploy.cluster kubectl ARGS...   kubectl against the cluster

The rooms, in the order `up` uses them:
    layout.py    every path, address, port and version in one place
    build.py     the Go builds (go/*: one module per binary) and the add-on images
    pki.py       the cluster's certificate authorities, certificates and kubeconfigs
    node.py      the host: Debian packages, sysctls, the node address, the configuration
    processes.py the node's processes, their readiness, kubectl and ctr
    images.py    the images `make compose-up` built, loaded into the node's containerd
    addons.py    CoreDNS, the Ingress controller (Traefik), metrics-server (manifests/)
    workload.py  the test overlay (deploy/k8s/overlays/local), applied and waited for
    teardown.py  `down`
"""
