"""Drift of one cluster as data: every object fleet manages compared with what Git wants (the scan that
finds it is ``fleet.engine.drift``).

- modified: the server-side dry run of the desired object differs from the live object (so server
  defaults never count); each field with desired and live value and the manager and time of its last
  change, from managedFields. Drift is about what fleet declares: a field fleet's apply does not set is
  not drift, so drift, `fleet plan` and a second sync agree by construction. In strict mode only, labels
  and annotations that another manager added are drift too, except those Kubernetes' own components
  maintain (the controller manager's `pv.kubernetes.io/...` on volumes, the DaemonSet controller's
  `deprecated.daemonset.template.generation`, ...).
- missing: desired but not in the cluster (deleted behind fleet's back, or never synced).
- extra: in the inventory but no longer desired (prune pending).
- conflict: another field manager owns a field fleet sets (a plain sync would be refused).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from fleet.model.health import Health
from fleet.model.inventory import Inventory
from fleet.model.objects import ObjectKey

PRUNE_PENDING = "in the inventory but no longer desired: prune pending"


class DriftType(StrEnum):
    MODIFIED = "modified"
    MISSING = "missing"
    EXTRA = "extra"
    CONFLICT = "conflict"


@dataclass(frozen=True)
class DriftField:
    path: str
    desired: Any
    live: Any
    manager: str = ""
    time: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "desired": self.desired,
            "live": self.live,
            "manager": self.manager,
            "time": self.time,
        }


@dataclass(frozen=True)
class DriftItem:
    key: ObjectKey
    type: DriftType
    fields: tuple[DriftField, ...] = ()
    message: str = ""
    desired: dict[str, Any] | None = field(default=None, repr=False, compare=False)  # normalised, for text diffs
    live: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "kind": self.key.kind,
            "group": self.key.group,
            "namespace": self.key.namespace,
            "name": self.key.name,
            "type": str(self.type),
            "fields": [f.to_dict() for f in self.fields],
        }
        if self.message:
            data["message"] = self.message
        return data


def item_from_dict(data: dict[str, Any]) -> DriftItem:
    key = ObjectKey(str(data.get("group", "")), str(data["kind"]), str(data.get("namespace", "")), str(data["name"]))
    fields = tuple(
        DriftField(str(f["path"]), f.get("desired"), f.get("live"), str(f.get("manager", "")), str(f.get("time", "")))
        for f in data.get("fields") or []
    )
    return DriftItem(key, DriftType(data["type"]), fields, str(data.get("message", "")))


@dataclass(frozen=True)
class ClusterDrift:
    items: tuple[DriftItem, ...]
    health: Health
    object_health: dict[ObjectKey, Health]
    inventory: Inventory
    inventory_written_at: str  # when fleet last wrote the inventory: the last sync that changed anything
