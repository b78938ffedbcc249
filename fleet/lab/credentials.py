"""The lab's credentials and simulated nodes: one CA, serving and client certificates for every component,
kubeconfigs (one per cluster, one per component, a combined one), and the Node objects kwok animates."""

from __future__ import annotations

from fleet.lab import components as comp
from fleet.lab import kubeconfig, pki
from fleet.lab.components import LabPaths
from fleet.lab.state import LabState


def write_credentials(paths: LabPaths, state: LabState) -> None:
    d = paths.pki
    d.mkdir(parents=True, exist_ok=True)
    ca = pki.ensure_ca(d)
    pki.ensure_service_account_key(d)
    pki.issue(ca, d, "apiserver", common_name="kube-apiserver", server_hosts=("127.0.0.1", "localhost"))
    identities = {
        "admin": pki.issue(ca, d, "admin", common_name="fleet-lab-admin", organizations=("system:masters",)),
        "kube-controller-manager": pki.issue(
            ca,
            d,
            "kube-controller-manager",
            common_name="system:kube-controller-manager",
            organizations=("system:masters",),
        ),
        "kube-scheduler": pki.issue(ca, d, "kube-scheduler", common_name="system:kube-scheduler"),
        "kwok": pki.issue(ca, d, "kwok", common_name="kwok", organizations=("system:masters",)),
    }
    admin_entries = []
    for cluster in state.clusters.values():
        admin = kubeconfig.entry(
            cluster=cluster.name,
            server=cluster.server,
            ca=ca.cert,
            client=identities["admin"],
            user=f"{cluster.name}-admin",
        )
        admin_entries.append(admin)
        kubeconfig.write(paths.kubeconfig(cluster.name), [admin])
        for component in ("kube-controller-manager", "kube-scheduler", "kwok"):
            entry = kubeconfig.entry(
                cluster=cluster.name,
                server=cluster.server,
                ca=ca.cert,
                client=identities[component],
                user=component,
            )
            kubeconfig.write(paths.component_kubeconfig(cluster.name, component), [entry])
    kubeconfig.write(paths.combined_kubeconfig, admin_entries)
    (paths.root / "kwok.yaml").write_text(comp.KWOK_CONFIG)


def node_manifest(cluster: str, name: str, labels: dict[str, str]) -> dict[str, object]:
    resources = {"cpu": "32", "memory": "256Gi", "pods": "110", "ephemeral-storage": "100Gi"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                **labels,
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
                "fleet.dev/lab-cluster": cluster,
            },
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
        },
        "spec": {},
        "status": {"capacity": resources, "allocatable": resources},
    }
