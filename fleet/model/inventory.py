"""What fleet applied to a cluster, as data, and its encoding in the ConfigMap ``fleet-system/fleet-inventory``
that stores it in that cluster (reading and writing it is ``fleet.engine.inventory``).

Only identities (API version, kind, namespace, name), a short digest of each desired object and whether
fleet adopted an object it did not create: never manifests, so the inventory stays far below etcd's object
size limit (about 60 bytes an entry; 10,000 objects fit in 1 MiB).

The inventory is the only input of prune: an object that is not in it is never deleted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fleet.model.objects import ObjectKey, split_api_version
from fleet.model.vocabulary import CLUSTER_LABEL, INVENTORY_NAME, INVENTORY_NAMESPACE, MANAGED_BY, MANAGED_BY_VALUE

FORMAT = "1"


@dataclass(frozen=True)
class Entry:
    key: ObjectKey
    api_version: str
    digest: str = ""
    adopted: bool = False  # existed before fleet applied it: prune leaves it in place

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "v": self.api_version,
            "k": self.key.kind,
            "ns": self.key.namespace,
            "n": self.key.name,
            "d": self.digest,
        }
        if self.adopted:
            data["a"] = True
        return data

    @property
    def applied_digest(self) -> str | None:
        """The digest fleet applied; None for an adopted object (fleet never applied it from scratch)."""
        return None if self.adopted else self.digest

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Entry:
        api_version = str(data["v"])
        key = ObjectKey(split_api_version(api_version)[0], str(data["k"]), str(data.get("ns", "")), str(data["n"]))
        return cls(key, api_version, str(data.get("d", "")), bool(data.get("a", False)))


@dataclass(frozen=True)
class Inventory:
    entries: Mapping[ObjectKey, Entry]
    revision: str = ""  # the revision of the last sync that completed (apply and prune)
    release: Mapping[str, Any] = field(default_factory=dict)  # the env's release pin that sync applied

    @classmethod
    def empty(cls) -> Inventory:
        return cls({}, "")

    def union(self, entries: Iterable[Entry]) -> Inventory:
        merged = dict(self.entries)
        for entry in entries:
            old = merged.get(entry.key)
            # An adopted object stays adopted: fleet still did not create it.
            merged[entry.key] = Entry(
                entry.key, entry.api_version, entry.digest, entry.adopted or bool(old and old.adopted)
            )
        return Inventory(merged, self.revision, self.release)

    def applied_digest(self, key: ObjectKey) -> str | None:
        entry = self.entries.get(key)
        return None if entry is None else entry.applied_digest

    def with_revision(self, revision: str, release: Mapping[str, Any] | None = None) -> Inventory:
        return Inventory(self.entries, revision, self.release if release is None else release)

    def to_configmap(self, cluster: str, name: str = INVENTORY_NAME) -> dict[str, Any]:
        entries = [self.entries[k].to_json() for k in sorted(self.entries)]
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": name,
                "namespace": INVENTORY_NAMESPACE,
                "labels": {MANAGED_BY: MANAGED_BY_VALUE, CLUSTER_LABEL: cluster},
            },
            "data": {
                "format": FORMAT,
                "revision": self.revision,
                "release": json.dumps(dict(self.release), sort_keys=True, separators=(",", ":")),
                "entries": json.dumps(entries, separators=(",", ":")),
            },
        }

    @classmethod
    def from_configmap(cls, configmap: Mapping[str, Any]) -> Inventory:
        data = configmap.get("data") or {}
        raw = json.loads(data.get("entries") or "[]")
        entries = [Entry.from_json(item) for item in raw]
        release = json.loads(data.get("release") or "{}")
        return cls(
            {e.key: e for e in entries}, str(data.get("revision", "")), release if isinstance(release, dict) else {}
        )

    def same_as(self, other: Inventory) -> bool:
        return (
            self.revision == other.revision
            and dict(self.release) == dict(other.release)
            and dict(self.entries) == dict(other.entries)
        )


class InventoryError(Exception):
    pass


def parse(configmap: Mapping[str, Any] | None, name: str = INVENTORY_NAME) -> Inventory:
    if configmap is None:
        return Inventory.empty()
    try:
        return Inventory.from_configmap(configmap)
    except (ValueError, KeyError, TypeError) as exc:
        # Never guess: a damaged inventory would make prune delete the wrong things, or nothing.
        raise InventoryError(
            f"{INVENTORY_NAMESPACE}/{name} is unreadable ({exc}); fix or delete it to start over"
        ) from None
