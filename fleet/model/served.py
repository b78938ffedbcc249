"""Which of a cluster's desired objects use an API the cluster does not serve: the vocabulary of the check
(the discovery side is ``ResourceManager.unserved``).

Real fleets run several Kubernetes minors at once (clusters are upgraded env by env, wave by wave), and
API versions are added and removed between minors. Discovery is per cluster, never assumed from another
one; a kind that a CRD of the same render defines counts as served (it will be, once established).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fleet.model.objects import ObjectKey

CRD = ("apiextensions.k8s.io", "CustomResourceDefinition")


@dataclass(frozen=True)
class Unserved:
    key: ObjectKey
    api_version: str
    kind: str
    source: str  # the file in the fleet repository that rendered it

    def __str__(self) -> str:
        where = f", {self.source}" if self.source else ""
        return f"{self.api_version} {self.kind} ({self.key}{where})"


def crd_kinds(objects: Mapping[ObjectKey, dict[str, Any]]) -> set[tuple[str, str]]:
    """The (group, kind) pairs that CRDs among ``objects`` define."""
    kinds = set()
    for key, obj in objects.items():
        if key.group_kind == CRD:
            spec = obj.get("spec") or {}
            kinds.add((str(spec.get("group", "")), str((spec.get("names") or {}).get("kind", ""))))
    return kinds


def describe(unserved: list[Unserved], cluster: str, version: str) -> str:
    more = f" and {len(unserved) - 3} more" if len(unserved) > 3 else ""
    verb = "is" if len(unserved) == 1 else "are"
    at = f" ({version})" if version else ""
    return f"{'; '.join(str(u) for u in unserved[:3])}{more} {verb} not served by {cluster}{at}"
