"""Apply order: CRDs, Namespaces, ServiceAccounts and RBAC, ConfigMaps and Secrets, Services, workloads,
the rest; objects with a higher ``fleet.dev/wave`` annotation after all of a lower wave. Prune runs the
same order backwards (custom resources before their CRDs, namespaces last)."""

from __future__ import annotations

from typing import Any

from fleet.objects import ObjectKey

WAVE_ANNOTATION = "fleet.dev/wave"

_RANKS: dict[tuple[str, str], int] = {
    ("apiextensions.k8s.io", "CustomResourceDefinition"): 0,
    ("", "Namespace"): 1,
    ("", "ServiceAccount"): 2,
    ("rbac.authorization.k8s.io", "ClusterRole"): 2,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): 2,
    ("rbac.authorization.k8s.io", "Role"): 2,
    ("rbac.authorization.k8s.io", "RoleBinding"): 2,
    ("", "ConfigMap"): 3,
    ("", "Secret"): 3,
    ("", "Service"): 4,
    ("apps", "Deployment"): 5,
    ("apps", "StatefulSet"): 5,
    ("apps", "DaemonSet"): 5,
    ("apps", "ReplicaSet"): 5,
    ("batch", "Job"): 5,
    ("batch", "CronJob"): 5,
    ("", "Pod"): 5,
}
REST_RANK = 6
# Custom resources (anything fleet cannot place) go with "the rest", after the built-in kinds they use.


def wave_of(obj: dict[str, Any]) -> int:
    raw = ((obj.get("metadata") or {}).get("annotations") or {}).get(WAVE_ANNOTATION, 0)
    try:
        return int(raw)
    except (TypeError, ValueError):
        return 0


def kind_rank(key: ObjectKey) -> int:
    return _RANKS.get(key.group_kind, REST_RANK)


def apply_order(key: ObjectKey, obj: dict[str, Any]) -> tuple[int, int, ObjectKey]:
    return wave_of(obj), kind_rank(key), key
