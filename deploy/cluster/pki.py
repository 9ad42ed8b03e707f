"""The cluster's certificate authorities, certificates and kubeconfigs (`cryptography`).

A fresh set for every `up`: a cluster CA (API server, kubelet, clients), an etcd CA and a
front-proxy CA (the aggregation layer metrics-server is served through), each client named as
Kubernetes' RBAC expects (`system:kube-scheduler`, `system:node:<node>`, ...), and the key that
signs service account tokens. ECDSA P-256 keys: quick to make, accepted by every component.
"""

import base64
import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from deploy.cluster import layout

VALIDITY = datetime.timedelta(days=30)
PEM = serialization.Encoding.PEM


@dataclass(frozen=True)
class Authority:
    name: str
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    path.chmod(0o600)


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attributes)


def authority(name: str) -> Authority:
    """A self-signed CA, written as <name>.crt and <name>.key."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(_name(name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_key(layout.PKI / f"{name}.key", key)
    (layout.PKI / f"{name}.crt").write_bytes(certificate.public_bytes(PEM))
    return Authority(name, key, certificate)


def issue(
    ca: Authority,
    name: str,
    common_name: str,
    *,
    organization: str | None = None,
    server: bool = False,
    client: bool = False,
    hosts: tuple[str, ...] = (),
) -> None:
    """A certificate signed by ``ca``, written as <name>.crt and <name>.key."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    usages = [ExtendedKeyUsageOID.SERVER_AUTH] if server else []
    usages += [ExtendedKeyUsageOID.CLIENT_AUTH] if client else []
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, organization))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_encipherment=False,
                key_cert_sign=False,
                crl_sign=False,
                content_commitment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
    )
    if hosts:
        names: list[x509.GeneralName] = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    certificate = builder.sign(ca.key, hashes.SHA256())
    _write_key(layout.PKI / f"{name}.key", key)
    (layout.PKI / f"{name}.crt").write_bytes(certificate.public_bytes(PEM))


def kubeconfig(path: Path, user: str, certificate: str) -> None:
    """A kubeconfig for ``user``, authenticated by the client certificate <certificate>.crt."""

    def encoded(name: str) -> str:
        return base64.b64encode((layout.PKI / name).read_bytes()).decode()

    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "talent",
                "cluster": {
                    "server": layout.API_URL,
                    "certificate-authority-data": encoded("ca.crt"),
                },
            }
        ],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate-data": encoded(f"{certificate}.crt"),
                    "client-key-data": encoded(f"{certificate}.key"),
                },
            }
        ],
        "contexts": [{"name": "talent", "context": {"cluster": "talent", "user": user}}],
        "current-context": "talent",
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)


# The clients of the API server: file name, common name, organization (group).
CLIENTS = {
    "admin": ("talent-admin", "system:masters"),
    "controller-manager": ("system:kube-controller-manager", None),
    "scheduler": ("system:kube-scheduler", None),
    "kubelet": (f"system:node:{layout.NODE_NAME}", "system:nodes"),
    "kube-proxy": ("system:kube-proxy", None),
}


def create() -> None:
    """Every certificate, key and kubeconfig the cluster needs, new."""
    layout.PKI.mkdir(parents=True, exist_ok=True)
    layout.CONFIG.mkdir(parents=True, exist_ok=True)
    ca = authority("ca")
    etcd_ca = authority("etcd-ca")
    front_proxy_ca = authority("front-proxy-ca")
    local = ("127.0.0.1", "localhost")
    issue(etcd_ca, "etcd-server", "etcd", server=True, client=True, hosts=local)
    issue(etcd_ca, "apiserver-etcd-client", "kube-apiserver-etcd-client", client=True)
    service = "kubernetes.default.svc"
    issue(
        ca,
        "apiserver",
        "kube-apiserver",
        server=True,
        hosts=(
            layout.NODE_IP,
            layout.API_SERVICE_IP,
            *local,
            "kubernetes",
            "kubernetes.default",
            service,
            f"{service}.{layout.CLUSTER_DOMAIN}",
        ),
    )
    issue(
        ca,
        "apiserver-kubelet-client",
        "kube-apiserver-kubelet-client",
        organization="system:masters",
        client=True,
    )
    issue(front_proxy_ca, "front-proxy-client", "front-proxy-client", client=True)
    issue(
        ca,
        "kubelet-server",
        layout.NODE_NAME,
        server=True,
        hosts=(layout.NODE_IP, layout.NODE_NAME),
    )
    issue(ca, "ingress", layout.INGRESS_HOST, server=True, hosts=(layout.INGRESS_HOST,))
    for name, (common_name, organization) in CLIENTS.items():
        issue(ca, name, common_name, organization=organization, client=True)
        kubeconfig(layout.CONFIG / f"{name}.kubeconfig", common_name, name)
    service_accounts = ec.generate_private_key(ec.SECP256R1())
    _write_key(layout.PKI / "service-accounts.key", service_accounts)
    (layout.PKI / "service-accounts.pub").write_bytes(
        service_accounts.public_key().public_bytes(
            PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
