"""The fleet report: one entry per cluster (sync state, health, drift, revisions, errors) and a fleet-wide
summary with a one-line reason for every cluster that is not Synced and Healthy.

Built from data (drift scans, change sets, errors), never from logs; the CLI prints it live and the hub
serves the same model. The JSON shape is documented in the README and stable.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from fleet.errors import UsageError
from fleet.model.cluster import Cluster, Selection
from fleet.model.drift import ClusterDrift, DriftItem, item_from_dict
from fleet.model.health import Code, Health
from fleet.model.objects import ObjectKey


class SyncState(StrEnum):
    SYNCED = "Synced"
    OUT_OF_SYNC = "OutOfSync"
    UNKNOWN = "Unknown"


def iso(epoch: float | None) -> str | None:
    return None if epoch is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


@dataclass(frozen=True)
class ClusterReport:
    name: str
    env: str
    labels: dict[str, str]
    revision: str  # what Git wants now
    applied_revision: str = ""  # what the cluster's inventory records as last fully synced
    sync: SyncState = SyncState.UNKNOWN
    health: Health = field(default_factory=lambda: Health(Code.UNKNOWN))
    health_object: ObjectKey | None = None  # the object that decides the cluster's health
    drift: tuple[DriftItem, ...] = ()
    last_sync: str | None = None
    last_sync_duration: float | None = None
    error: str | None = None
    error_since: str | None = None
    release: dict[str, Any] = field(default_factory=dict)  # the env release pin the cluster last applied
    objects: tuple[tuple[ObjectKey, Health], ...] = ()  # every object Git wants, with its health (last scan)

    @property
    def ok(self) -> bool:
        return self.sync is SyncState.SYNCED and self.health.code is Code.HEALTHY and not self.error

    def why(self) -> str | None:
        """One line saying why the cluster is not Synced and Healthy; None when it is."""
        if self.error and self.error_since:
            return f"unreachable since {self.error_since}: {self.error}"
        if self.error:  # reachable, but something needs a person (the hub fighting another controller)
            return self.error
        reasons = []
        if self.drift:
            first = self.drift[0]
            detail = f"{first.type} {first.key}"
            if first.fields and first.fields[0].manager:
                detail += f" ({first.fields[0].path} changed by {first.fields[0].manager})"
            more = f" and {len(self.drift) - 1} more" if len(self.drift) > 1 else ""
            reasons.append(f"OutOfSync: {detail}{more}")
        if self.health.code is not Code.HEALTHY:
            what = f"{self.health_object}: " if self.health_object else ""
            reasons.append(f"{self.health.code.label} because {what}{self.health.message}".rstrip(": "))
        return "; ".join(reasons) or None

    def to_dict(self, *, with_items: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "env": self.env,
            "labels": dict(sorted(self.labels.items())),
            "revision": self.revision,
            "appliedRevision": self.applied_revision or None,
            "sync": str(self.sync),
            "health": {**self.health.to_dict(), "object": str(self.health_object) if self.health_object else None},
            "drift": len(self.drift),
            "error": self.error,
            "errorSince": self.error_since,
            "lastSync": self.last_sync,
            "lastSyncDuration": self.last_sync_duration,
            "why": self.why(),
            "release": self.release or None,
        }
        if with_items:
            data["items"] = [item.to_dict() for item in self.drift]
            data["objects"] = [{"object": str(key), **health.to_dict()} for key, health in self.objects]
        return data


def scanned(
    cluster: Cluster,
    *,
    revision: str,
    scan: ClusterDrift,
    last_sync: str | None,
    last_sync_duration: float | None = None,
    error: str | None = None,
) -> ClusterReport:
    """The report of a cluster whose drift scan completed (``error``: reachable, but something needs a
    person, such as a refused prune or another controller fighting the hub)."""
    worst = next((k for k, h in scan.object_health.items() if h == scan.health and h.code is not Code.HEALTHY), None)
    return ClusterReport(
        name=cluster.name,
        env=cluster.env,
        labels=dict(cluster.labels),
        revision=revision,
        applied_revision=scan.inventory.revision,
        sync=SyncState.OUT_OF_SYNC if scan.items else SyncState.SYNCED,
        health=scan.health,
        health_object=worst,
        drift=scan.items,
        last_sync=last_sync,
        last_sync_duration=last_sync_duration,
        error=error,
        release=dict(scan.inventory.release),
        objects=tuple(scan.object_health.items()),
    )


def unknown(
    cluster: Cluster,
    *,
    revision: str,
    error: str,
    error_since: float | None,
    last_sync: str | None = None,
    last_sync_duration: float | None = None,
) -> ClusterReport:
    """The report of a cluster that could not be read (unreachable, timed out, failed to render)."""
    return ClusterReport(
        name=cluster.name,
        env=cluster.env,
        labels=dict(cluster.labels),
        revision=revision,
        sync=SyncState.UNKNOWN,
        health=Health(Code.UNKNOWN, error),
        last_sync=last_sync,
        last_sync_duration=last_sync_duration,
        error=error,
        error_since=iso(error_since),
    )


def cluster_from_dict(data: dict[str, Any]) -> ClusterReport:
    """The inverse of ``ClusterReport.to_dict`` (for reports read from a hub)."""
    health = data.get("health") or {}
    obj = health.get("object")
    return ClusterReport(
        name=data["name"],
        env=data["env"],
        labels=dict(data.get("labels") or {}),
        revision=data.get("revision") or "",
        applied_revision=data.get("appliedRevision") or "",
        sync=SyncState(data.get("sync", "Unknown")),
        health=Health(Code[str(health.get("status", "Unknown")).upper()], health.get("message") or ""),
        health_object=_key(obj) if obj else None,
        drift=tuple(item_from_dict(i) for i in data.get("items") or []),
        last_sync=data.get("lastSync"),
        last_sync_duration=data.get("lastSyncDuration"),
        error=data.get("error"),
        error_since=data.get("errorSince"),
        release=dict(data.get("release") or {}),
        objects=tuple(
            (_key(o["object"]), Health(Code[str(o.get("status", "Unknown")).upper()], o.get("message") or ""))
            for o in data.get("objects") or []
        ),
    )


def _key(text: str) -> ObjectKey:
    """An ObjectKey from its string form (``Kind.group/namespace/name``)."""
    kind_group, _, rest = str(text).partition("/")
    kind, _, group = kind_group.partition(".")
    namespace, _, name = rest.rpartition("/")
    return ObjectKey(group, kind, namespace, name)


@dataclass(frozen=True)
class FleetReport:
    clusters: tuple[ClusterReport, ...]
    generated_at: str

    def summary(self) -> dict[str, Any]:
        per_env: dict[str, Counter[str]] = {}
        for cluster in self.clusters:
            counts = per_env.setdefault(cluster.env, Counter())
            counts[str(cluster.sync)] += 1
            counts["Unreachable" if cluster.error else cluster.health.code.label] += 1
        total = Counter(str(c.sync) for c in self.clusters) + Counter(
            "Unreachable" if c.error else c.health.code.label for c in self.clusters
        )
        return {
            "clusters": len(self.clusters),
            "ok": sum(1 for c in self.clusters if c.ok),
            "states": dict(sorted(total.items())),
            "envs": {env: dict(sorted(c.items())) for env, c in sorted(per_env.items())},
        }

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.clusters)

    def selected(self, selection: Selection) -> FleetReport:
        """The clusters ``selection`` chooses (as the registry would choose them); a cluster named that the
        report does not hold is a usage error."""
        known = {c.name for c in self.clusters}
        for name in selection.clusters:
            if name not in known:
                raise UsageError(f"unknown cluster {name!r}; known clusters: {', '.join(sorted(known)) or 'none'}")
        chosen = tuple(c for c in self.clusters if selection.matches(c.name, c.env, c.labels))
        return FleetReport(chosen, self.generated_at)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FleetReport:
        return cls(tuple(cluster_from_dict(c) for c in data.get("clusters") or []), str(data.get("generatedAt", "")))

    def to_dict(self, *, with_items: bool = False) -> dict[str, Any]:
        return {
            "generatedAt": self.generated_at,
            "summary": self.summary(),
            "clusters": [c.to_dict(with_items=with_items) for c in self.clusters],
        }
