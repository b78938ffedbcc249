"""Apply order: every kind after the kinds it may depend on, so that a first sync of a correct repository
succeeds in one pass; objects with a higher ``fleet.dev/wave`` annotation after all of a lower wave.
Prune runs the same order backwards (custom resources before their CRDs, namespaces last).

The order follows Helm's ``InstallOrder`` and gitops-engine's ``kindOrder``, with two choices of fleet's:

1. CRDs come first of all (and are waited for until Established), then Namespaces: everything else may be
   a custom resource or live in a namespace of the same commit.
2. Cluster-wide prerequisites that admission checks at create time come before anything that names them:
   PriorityClass (a Pod naming a missing one is refused), RuntimeClass, StorageClass, IngressClass,
   PersistentVolume, ResourceQuota and LimitRange (admission applies them to Pods as they are created),
   and admission *policies* (ValidatingAdmissionPolicy, MutatingAdmissionPolicy and their bindings), which
   need no backend, so that they are in force for the workloads of the same sync.
3. Admission *webhooks* and APIServices come last, as Helm and Argo CD place them: they point at a Service
   that this very sync may be creating, and a webhook registered before its backend runs (failurePolicy:
   Fail) would make the apiserver refuse everything after it.

Custom resources (kinds fleet cannot place) go after the built-in kinds they commonly use and before
webhooks.
"""

from __future__ import annotations

from typing import Any

from fleet.model.objects import ObjectKey
from fleet.model.vocabulary import WAVE_ANNOTATION

_ORDER: list[list[tuple[str, str]]] = [
    [("apiextensions.k8s.io", "CustomResourceDefinition")],
    [("", "Namespace")],
    [
        ("scheduling.k8s.io", "PriorityClass"),
        ("node.k8s.io", "RuntimeClass"),
        ("storage.k8s.io", "StorageClass"),
        ("storage.k8s.io", "CSIDriver"),
        ("storage.k8s.io", "VolumeAttributesClass"),
        ("networking.k8s.io", "IngressClass"),
        ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
        ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"),
        ("admissionregistration.k8s.io", "MutatingAdmissionPolicy"),
        ("admissionregistration.k8s.io", "MutatingAdmissionPolicyBinding"),
    ],
    [
        ("", "ResourceQuota"),
        ("", "LimitRange"),
        ("networking.k8s.io", "NetworkPolicy"),
        ("policy", "PodDisruptionBudget"),
        ("", "PersistentVolume"),
    ],
    [
        ("", "ServiceAccount"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("rbac.authorization.k8s.io", "Role"),
        ("rbac.authorization.k8s.io", "RoleBinding"),
    ],
    [("", "ConfigMap"), ("", "Secret")],
    [("", "PersistentVolumeClaim")],
    [("", "Service"), ("", "Endpoints"), ("discovery.k8s.io", "EndpointSlice")],
    [
        ("apps", "DaemonSet"),
        ("", "Pod"),
        ("", "ReplicationController"),
        ("apps", "ReplicaSet"),
        ("apps", "Deployment"),
        ("apps", "StatefulSet"),
        ("batch", "Job"),
        ("batch", "CronJob"),
    ],
    [("autoscaling", "HorizontalPodAutoscaler"), ("networking.k8s.io", "Ingress")],
]
_RANKS: dict[tuple[str, str], int] = {kind: rank for rank, kinds in enumerate(_ORDER) for kind in kinds}
REST_RANK = len(_ORDER)  # custom resources and kinds fleet cannot place
_LAST = {
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
    ("apiregistration.k8s.io", "APIService"),
}
LAST_RANK = REST_RANK + 1


def apply_wave(obj: dict[str, Any]) -> int:
    """The object's ``fleet.dev/wave`` annotation: its place in one cluster's apply order (not a rollout wave)."""
    raw = ((obj.get("metadata") or {}).get("annotations") or {}).get(WAVE_ANNOTATION, 0)
    try:
        return int(raw)
    except (TypeError, ValueError):
        return 0


def kind_rank(key: ObjectKey) -> int:
    if key.group_kind in _LAST:
        return LAST_RANK
    return _RANKS.get(key.group_kind, REST_RANK)


def apply_order(key: ObjectKey, obj: dict[str, Any]) -> tuple[int, int, ObjectKey]:
    return apply_wave(obj), kind_rank(key), key
