"""Results as data: what a sync did (or a plan would do) to each object of one cluster."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from fleet.model.compare import FieldDiff
from fleet.model.health import HEALTHY, Health
from fleet.model.objects import ObjectKey


class Action(StrEnum):
    CREATED = "created"
    CONFIGURED = "configured"
    UNCHANGED = "unchanged"
    DELETED = "deleted"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True)
class ObjectChange:
    key: ObjectKey
    action: Action
    message: str = ""
    diff: tuple[FieldDiff, ...] = ()
    health: Health | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {**self.key.to_dict(), "action": str(self.action)}
        if self.message:
            data["message"] = self.message
        if self.health is not None:
            data["health"] = self.health.to_dict()
        if self.diff:
            data["diff"] = [{"path": d.path, "desired": d.desired, "live": d.live} for d in self.diff]
        return data


@dataclass(frozen=True)
class ChangeSet:
    cluster: str
    env: str
    revision: str
    dry_run: bool
    changes: tuple[ObjectChange, ...] = ()
    error: str | None = None  # the cluster could not be synced (unreachable, timed out, ...)
    # Nothing failed, yet the cluster does not match Git after this sync (a prune refused by the safety
    # limit, postponed or disabled): why, and what to do. The revision is not recorded as applied.
    pending: str | None = None
    started_at: float = 0.0  # epoch seconds
    duration: float = 0.0
    writes: int = 0  # write requests sent (dry runs excluded)
    requests: int = 0  # all requests, reads and dry runs included
    health: Health = field(default=HEALTHY)

    @property
    def counts(self) -> Counter[Action]:
        return Counter(c.action for c in self.changes)

    @property
    def failed(self) -> bool:
        return self.error is not None or any(c.action is Action.FAILED for c in self.changes)

    @property
    def matches_git(self) -> bool:
        return not self.failed and self.pending is None

    @property
    def changed(self) -> bool:
        return any(c.action in (Action.CREATED, Action.CONFIGURED, Action.DELETED) for c in self.changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "cluster": self.cluster,
            "env": self.env,
            "revision": self.revision,
            "dryRun": self.dry_run,
            "error": self.error,
            "pending": self.pending,
            "startedAt": self.started_at,
            "durationSeconds": round(self.duration, 3),
            "writes": self.writes,
            "requests": self.requests,
            "health": self.health.to_dict(),
            "counts": {a.value: self.counts.get(a, 0) for a in Action},
            "objects": [c.to_dict() for c in self.changes],
        }
