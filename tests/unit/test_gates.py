from __future__ import annotations

import calendar
import time

from fleet.model.drift import DriftItem, DriftType
from fleet.model.health import Code, Health
from fleet.model.objects import ObjectKey
from fleet.model.promotion import evaluate_gates
from fleet.model.report import ClusterReport, SyncState

NOW = calendar.timegm(time.strptime("2026-11-28T12:00:00Z", "%Y-%m-%dT%H:%M:%SZ"))


def report(name: str, **kw: object) -> ClusterReport:
    base: dict[str, object] = {
        "name": name,
        "env": "dev",
        "labels": {},
        "revision": "r",
        "sync": SyncState.SYNCED,
        "health": Health(Code.HEALTHY),
        "last_sync": "2026-11-28T11:00:00Z",
    }
    base.update(kw)
    return ClusterReport(**base)  # type: ignore[arg-type]


def test_gates_name_every_failing_cluster_with_its_reason() -> None:
    key = ObjectKey("apps", "Deployment", "shop", "shop")
    reports = [
        report("ok-1"),
        report("drifted-1", sync=SyncState.OUT_OF_SYNC, drift=(DriftItem(key, DriftType.MODIFIED),)),
        report("sick-1", health=Health(Code.DEGRADED, "ProgressDeadlineExceeded"), health_object=key),
        report("gone-1", error="cannot connect", error_since="2026-11-28T11:58:00Z", sync=SyncState.UNKNOWN),
        report("fight-1", error="fighting with manager hpa: self-heal paused"),
        report("fresh-1", last_sync="2026-11-28T11:59:00Z"),
    ]
    gates = {g.cluster: g for g in evaluate_gates(reports, min_soak_seconds=600, now=NOW)}
    assert gates["ok-1"].passed
    assert gates["drifted-1"].reason == "1 drifted: modified Deployment.apps/shop/shop"
    assert gates["sick-1"].reason == "Degraded: Deployment.apps/shop/shop: ProgressDeadlineExceeded"
    assert gates["gone-1"].reason == "unreachable: cannot connect"
    assert gates["fight-1"].reason == "fighting with manager hpa: self-heal paused"
    assert gates["fresh-1"].reason == "soaking: changed 60s ago, needs 600s"
    assert evaluate_gates([report("fresh-1", last_sync="2026-11-28T11:59:00Z")], now=NOW)[0].passed
