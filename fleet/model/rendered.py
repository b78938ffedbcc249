"""What one cluster should run, as rendered from the fleet repository: the input of sync, drift and the hub."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fleet.model.cluster import Cluster
from fleet.model.compare import digest
from fleet.model.objects import ObjectKey


@dataclass(frozen=True)
class Release:
    revision: str
    values: Mapping[str, Any]


@dataclass(frozen=True)
class RenderedCluster:
    cluster: Cluster
    revision: str  # the revision the env overlay and registry were read at
    base_revision: str  # the revision base was read at (the env's release pin)
    objects: Mapping[ObjectKey, dict[str, Any]]  # in apply order
    release_values: Mapping[str, Any] = field(default_factory=dict)  # the values of the env's release pin
    notes: tuple[str, ...] = ()  # what rendering left out on purpose (chart hooks), for `fleet render`
    # Each object's digest, computed once: the hub syncs and scans the same rendering many times.
    _digests: dict[ObjectKey, str] = field(default_factory=dict, compare=False, repr=False)

    def digest(self, key: ObjectKey) -> str:
        """The object's fingerprint as the inventory records it (``compare.digest``)."""
        found = self._digests.get(key)
        if found is None:
            found = self._digests[key] = digest(self.objects[key])
        return found

    @property
    def release(self) -> dict[str, Any]:
        """What the env's release pin made this cluster run: recorded in the inventory, so a rollout
        across waves can tell which clusters run which release."""
        return {"revision": self.base_revision, "values": dict(self.release_values)}
