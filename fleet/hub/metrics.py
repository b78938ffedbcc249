"""The hub's Prometheus metrics, in a registry of their own (tests run several hubs in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class HubMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.reconcile_seconds = Histogram(
            "fleet_reconcile_duration_seconds", "Duration of one cluster reconcile", ["cluster"], registry=r
        )
        self.reconciles = Counter("fleet_reconciles_total", "Reconciles by result", ["cluster", "result"], registry=r)
        self.drift = Gauge("fleet_drift_objects", "Drifted objects per cluster", ["cluster"], registry=r)
        self.applied = Counter("fleet_applied_objects_total", "Objects created or configured", ["cluster"], registry=r)
        self.pruned = Counter("fleet_pruned_objects_total", "Objects deleted by prune", ["cluster"], registry=r)
        self.git_fetch_seconds = Histogram("fleet_git_fetch_duration_seconds", "Duration of Git fetches", registry=r)
        self.watch_reconnects = Counter(
            "fleet_watch_reconnects_total", "Watch streams restarted", ["cluster"], registry=r
        )
        self.last_success = Gauge(
            "fleet_last_successful_sync_timestamp_seconds", "Last successful sync per cluster", ["cluster"], registry=r
        )
        self.source_error = Gauge(
            "fleet_source_error",
            "1 while the newest revision cannot be fetched or loaded (the last good one is still managed)",
            registry=r,
        )
        self.self_heals = Counter("fleet_self_heals_total", "Drift corrected by self-heal", ["cluster"], registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)
