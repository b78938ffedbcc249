"""Drift of one cluster: every object fleet manages compared with what Git wants, read-only.

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

from fleet import inventory as inv
from fleet.concurrency import run_all
from fleet.diff import field_diffs, field_tokens, normalise, owns, specified_diffs
from fleet.health import Health, assess, worst
from fleet.kube.api import APPLY_CONTENT_TYPE, FIELD_MANAGER, ApiError, ClusterApi
from fleet.kube.discovery import Discovery
from fleet.kube.live import fetch_live, provably_unchanged
from fleet.masking import mask_diffs, mask_pair
from fleet.objects import ObjectKey
from fleet.render.engine import RenderedCluster

# Labels and annotations under kubernetes.io and k8s.io (and their subdomains: topology.kubernetes.io,
# pv.kubernetes.io, ...) are reserved for Kubernetes' own components; a few older ones have no prefix.
# Never drift, not even in strict mode.
RESERVED_DOMAINS = ("kubernetes.io", "k8s.io")
UNPREFIXED_SYSTEM_KEYS = frozenset({"deprecated.daemonset.template.generation"})
# Managers that are the object's own controllers: what they write is the object working, never drift.
CONTROL_PLANE_MANAGERS = frozenset({"kube-controller-manager", "kube-scheduler", "kubelet", "kube-apiserver"})


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
    inventory: inv.Inventory
    inventory_written_at: str  # when fleet last wrote the inventory: the last sync that changed anything


# ---- managedFields --------------------------------------------------------------------------------


def last_change(live: dict[str, Any], path: str) -> tuple[str, str]:
    """The field manager (and time) that owns ``path`` in ``live``, preferring managers other than fleet."""
    tokens = field_tokens(path)
    entries = (live.get("metadata") or {}).get("managedFields") or []
    if tokens is None:
        return "", ""
    owners = []
    # A field fleet no longer sets (absent on the desired side) may still be owned by a parent entry.
    for cut in range(len(tokens), 0, -1):
        owners = [e for e in entries if owns(e.get("fieldsV1") or {}, tokens[:cut])]
        if owners:
            break
    foreign = [e for e in owners if e.get("manager") != FIELD_MANAGER] or owners
    if not foreign:
        return "", ""
    latest = max(foreign, key=lambda e: str(e.get("time", "")))
    manager = str(latest.get("manager", ""))
    if latest.get("subresource"):
        manager += f" ({latest['subresource']})"
    return manager, str(latest.get("time", ""))


def _fleet_write_time(live: dict[str, Any]) -> str:
    entries = (live.get("metadata") or {}).get("managedFields") or []
    return max((str(e.get("time", "")) for e in entries if e.get("manager") == FIELD_MANAGER), default="")


def _system_key(key: str) -> bool:
    if key in UNPREFIXED_SYSTEM_KEYS:
        return True
    domain = key.rpartition("/")[0]
    return any(domain == d or domain.endswith("." + d) for d in RESERVED_DOMAINS)


def _foreign_metadata(desired: dict[str, Any], live: dict[str, Any]) -> list[tuple[str, Any]]:
    """Strict mode: labels and annotations a person or a tool (not the object's own controllers) added to
    an object fleet manages."""
    extra = []
    entries = (live.get("metadata") or {}).get("managedFields") or []
    for kind in ("labels", "annotations"):
        want = (desired.get("metadata") or {}).get(kind) or {}
        for key, value in sorted(((live.get("metadata") or {}).get(kind) or {}).items()):
            if key in want or _system_key(key):
                continue
            tokens = ["f:metadata", f"f:{kind}", f"f:{key}"]
            owners = {str(e.get("manager", "")) for e in entries if owns(e.get("fieldsV1") or {}, tokens)}
            # Owned by fleet: added by admission during fleet's own apply (a plan would show anything else).
            if owners and (FIELD_MANAGER in owners or owners <= CONTROL_PLANE_MANAGERS):
                continue
            extra.append((f"metadata.{kind}.{key}", value))
    return extra


# ---- the comparison -------------------------------------------------------------------------------


class DriftScan:
    def __init__(
        self,
        api: ClusterApi,
        rendered: RenderedCluster,
        *,
        inventory_name: str = inv.NAME,
        discovery: Discovery | None = None,
        strict: bool = False,
    ) -> None:
        self.api = api
        self.strict = strict
        self.rendered = rendered
        self.inventory_name = inventory_name
        self.discovery = discovery or Discovery(api)

    async def run(self) -> ClusterDrift:
        inventory_live = await inv.read_configmap(self.api, self.inventory_name)
        inventory = inv.parse(inventory_live, self.inventory_name)
        live = await fetch_live(self.api, self.discovery, self.rendered.objects)
        keys = list(self.rendered.objects)
        results = await run_all(self._object(key, self.rendered.objects[key], live, inventory) for key in keys)
        items: list[DriftItem] = []
        healths: dict[ObjectKey, Health] = {}
        for key, (item, health) in zip(keys, results, strict=True):
            healths[key] = health
            if item is not None:
                items.append(item)
        for key in sorted(k for k in inventory.entries if k not in self.rendered.objects):
            items.append(DriftItem(key, DriftType.EXTRA, message=PRUNE_PENDING))
        written = _fleet_write_time(inventory_live) if inventory_live else ""
        return ClusterDrift(tuple(items), worst(healths.values()), healths, inventory, written)

    async def _object(
        self,
        key: ObjectKey,
        obj: dict[str, Any],
        prefetched: dict[ObjectKey, dict[str, Any] | None],
        inventory: inv.Inventory,
    ) -> tuple[DriftItem | None, Health]:
        if key not in prefetched:
            message = f"the cluster serves no {obj['kind']} in {obj['apiVersion']}"
            return DriftItem(key, DriftType.MISSING, message=message), assess(None)
        live = prefetched[key]
        if live is None:
            return DriftItem(key, DriftType.MISSING, message="not found in the cluster"), assess(None)
        health = assess(live)
        foreign = _foreign_metadata(obj, live) if self.strict else []
        if provably_unchanged(inventory.entries.get(key), obj, live) and not foreign:
            return None, health  # no request needed: Git's fields are all there, untouched by anyone else
        path = (await self.discovery.resource(obj["apiVersion"], obj["kind"])).object_path(key)
        query = {"fieldManager": FIELD_MANAGER, "force": "false", "dryRun": "All"}
        drift_type = DriftType.MODIFIED
        message = ""
        try:
            try:
                dry = await self.api.request("PATCH", path, query=query, body=obj, content_type=APPLY_CONTENT_TYPE)
            except ApiError as exc:
                if exc.status != 409:
                    raise
                drift_type, message = DriftType.CONFLICT, exc.message
                dry = await self.api.request(
                    "PATCH", path, query={**query, "force": "true"}, body=obj, content_type=APPLY_CONTENT_TYPE
                )
            want, have = normalise(dry), normalise(live)
            diffs = field_diffs(want, have)
        except ApiError as exc:
            # The server rejects the merge of Git's object into the live one (for example a port renumbered
            # behind fleet's back collides with Git's): compare the fields Git specifies instead.
            message = f"a sync would fail: {exc}"
            want, have = normalise(obj), normalise(live)
            diffs = specified_diffs(want, have)
        fields = []
        for diff in diffs:
            manager, when = last_change(live, diff.path)
            fields.append(DriftField(diff.path, diff.desired, diff.live, manager, when))
        for path_, value in foreign:
            if not any(f.path == path_ for f in fields):
                manager, when = last_change(live, path_)
                fields.append(DriftField(path_, None, value, manager, when))
        if not fields and drift_type is DriftType.MODIFIED:
            return None, health
        # Compared on real values above; from here on a Secret's values are hidden.
        want, have = mask_pair(key, want, have)
        return DriftItem(key, drift_type, mask_diffs(key, tuple(fields)), message, want, have), health
