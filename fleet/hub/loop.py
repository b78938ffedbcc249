"""One cluster's reconcile loop in the hub: a single task per cluster, so two reconciles of the same
cluster never overlap. It wakes on a new revision, a watch event, a requested sync or its jittered
resync interval; it applies what changed in Git, scans drift, self-heals in self-heal envs (with a
backoff when another controller keeps undoing it), and backs off exponentially on errors."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from fleet.concurrency import cancelling, stop_task
from fleet.config import FleetConfig
from fleet.engine.drift import DriftScan
from fleet.engine.manager import ResourceManager
from fleet.engine.sync import ClusterSync, SyncOptions
from fleet.errors import ClusterError, FleetError, LeaseLost
from fleet.hub.log import EventLog
from fleet.hub.metrics import HubMetrics
from fleet.hub.watch import ClusterWatch
from fleet.kube.api import ApiError, ApiLimits, ClusterApi
from fleet.kube.discovery import UnknownKind
from fleet.model import report
from fleet.model.changeset import Action, ChangeSet
from fleet.model.cluster import Cluster
from fleet.model.drift import ClusterDrift, DriftItem, DriftType
from fleet.model.health import Code
from fleet.model.rendered import RenderedCluster
from fleet.model.report import ClusterReport, iso

FIGHT_WINDOW = 60.0  # seconds
FIGHT_LIMIT = 3  # self-heals of one cluster within the window before backing off
MAX_BACKOFF = 300.0
REQUESTED = "requested"  # the reason of a sync asked for through the API
PROGRESS_POLL = 2.0  # seconds between looks at a cluster whose objects are still progressing


@dataclass(frozen=True)
class LoopSettings:
    interval: float
    self_heal: bool
    inventory: str
    limits_timeout: float = 20.0


class ClusterLoop:
    def __init__(
        self,
        cluster: Cluster,
        *,
        settings: LoopSettings,
        render: Callable[[Cluster], Awaitable[RenderedCluster]],
        publish: Callable[[ClusterReport], None],
        connect: Callable[[Cluster, ApiLimits], Awaitable[ClusterApi]],
        config: FleetConfig,
        metrics: HubMetrics,
        log: EventLog,
    ) -> None:
        self.cluster = cluster
        self.settings = settings
        self.render = render
        self.publish = publish
        self.connect = connect  # the hub's: fenced, named in User-Agent, credentials from Secrets
        self.config = config
        self.metrics = metrics
        self.log = log
        self.wake = asyncio.Event()
        self.reasons: list[str] = ["start"]
        self.watch: ClusterWatch | None = None
        self.manager: ResourceManager | None = None
        self.synced_revision = ""
        self.last_sync: float | None = None
        self.last_duration: float | None = None
        self.error_since: float | None = None
        self.backoff = 0.0
        self.heals: deque[float] = deque()
        self.fighting = ""
        self.pending: str | None = None  # why the last sync left the cluster not matching Git
        self.task: asyncio.Task[None] | None = None
        self.idle = asyncio.Event()

    def trigger(self, reason: str) -> None:
        self.reasons.append(reason)
        self.wake.set()

    def start(self) -> None:
        self.wake.set()
        self.task = asyncio.create_task(self._run(), name=f"loop {self.cluster.name}")

    async def stop(self) -> None:
        if self.task:
            await stop_task(self.task)
        if self.watch:
            await self.watch.close()
        if self.manager:
            await self.manager.api.close()

    async def _run(self) -> None:
        while True:
            if cancelling():  # a cancellation that a request turned into an error on its way up
                raise asyncio.CancelledError
            interval = self.backoff or self.settings.interval * random.uniform(0.9, 1.1)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), interval)
            self.wake.clear()
            reasons, self.reasons = self.reasons or ["resync"], []
            self.idle.clear()
            try:
                await self.reconcile(reasons)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # never let one cluster's failure end its loop
                self._failed(f"{type(exc).__name__}: {exc}", None)
            finally:
                self.idle.set()

    # ---- one reconcile ------------------------------------------------------------------------------

    async def _client(self) -> ResourceManager:
        if self.manager is None:
            limits = ApiLimits(timeout=self.settings.limits_timeout)
            api = await self.connect(self.cluster, limits)
            reconnects = self.metrics.watch_reconnects.labels(self.cluster.name)
            self.watch = ClusterWatch(api, self._on_watch, reconnects.inc)
            self.manager = ResourceManager(api)  # kept: no discovery requests on every reconcile
        return self.manager

    async def _scan(self, manager: ResourceManager, rendered: RenderedCluster) -> ClusterDrift:
        return await DriftScan(manager, rendered, inventory_name=self.settings.inventory).run()

    def _on_watch(self, what: str) -> None:
        self.trigger(f"watch: {what}")

    async def reconcile(self, reasons: list[str]) -> None:
        name = self.cluster.name
        started = time.monotonic()
        try:
            rendered = await self.render(self.cluster)
        except FleetError as exc:
            self._failed(f"render failed: {exc}", None)
            self.metrics.reconciles.labels(name, "render_error").inc()
            return
        try:
            manager = await self._client()
            result = "noop"
            # A sync a person asked for (API, dashboard) applies Git's state even at an unchanged revision,
            # and takes back the fields others changed: that is what "sync now" means.
            requested = REQUESTED in reasons
            if requested or _identity(rendered) != self.synced_revision:
                reason = ", ".join(sorted(set(reasons)))[:200]
                change = await self._sync(manager, rendered, reason=reason, force=requested)
                result = "synced"
                if change.error:
                    raise ClusterError(name, change.error)
                self.pending = change.pending
            scan = await self._scan(manager, rendered)
            healable = [i for i in scan.items if i.type is not DriftType.EXTRA]
            if self.settings.self_heal and healable and self._may_heal(scan.items):
                self.log("self_heal", cluster=name, objects=len(healable), first=str(healable[0].key))
                await self._sync(manager, rendered, reason="self-heal", force=True)
                self.metrics.self_heals.labels(name).inc()
                scan = await self._scan(manager, rendered)
                result = "healed"
            await self._watch_resources(manager, rendered)
        except LeaseLost as exc:
            # Another replica holds the cluster now; this loop is being stopped. Nothing to report.
            self.log("lease_lost", cluster=name, error=exc.detail)
            return
        except (ClusterError, ApiError, UnknownKind) as exc:
            detail = exc.detail if isinstance(exc, ClusterError) else str(exc)
            self._failed(detail, rendered)
            self.metrics.reconciles.labels(name, "error").inc()
            return
        duration = time.monotonic() - started
        self.metrics.reconcile_seconds.labels(name).observe(duration)
        self.metrics.reconciles.labels(name, result).inc()
        self.metrics.drift.labels(name).set(len(scan.items))
        self.error_since, self.backoff = None, 0.0
        if scan.health.code is Code.PROGRESSING:
            self.backoff = PROGRESS_POLL  # look again soon even if no watch event arrives
        self.publish(
            report.scanned(
                self.cluster,
                revision=rendered.revision,
                scan=scan,
                last_sync=iso(self.last_sync),
                last_sync_duration=self.last_duration,
                error=self.fighting or self.pending or None,
            )
        )

    async def _sync(
        self, manager: ResourceManager, rendered: RenderedCluster, *, reason: str, force: bool = False
    ) -> ChangeSet:
        options = SyncOptions(force_conflicts=force or self.settings.self_heal, inventory=self.settings.inventory)
        change = await ClusterSync(manager, rendered, options).run()
        name = self.cluster.name
        counts = change.counts
        self.metrics.applied.labels(name).inc(counts[Action.CREATED] + counts[Action.CONFIGURED])
        self.metrics.pruned.labels(name).inc(counts[Action.DELETED])
        if change.matches_git:
            self.synced_revision = _identity(rendered)
            self.last_sync, self.last_duration = time.time(), round(change.duration, 3)
            self.metrics.last_success.labels(name).set(self.last_sync)
        for item in change.changes:
            if item.action in (Action.CREATED, Action.CONFIGURED, Action.DELETED, Action.FAILED):
                self.log(
                    "object", cluster=name, object=str(item.key), action=item.action.value, message=item.message or None
                )
        self.log(
            "sync",
            cluster=name,
            revision=rendered.revision[:12],
            reason=reason,
            writes=change.writes,
            failed=change.failed,
            seconds=round(change.duration, 3),
            error=change.error,
        )
        return change

    def _may_heal(self, items: Sequence[DriftItem]) -> bool:
        """Backs off when the same cluster needed healing too often: another controller is fighting."""
        now = time.monotonic()
        while self.heals and now - self.heals[0] > FIGHT_WINDOW:
            self.heals.popleft()
        if len(self.heals) >= FIGHT_LIMIT:
            managers = sorted({f.manager for i in items for f in i.fields if f.manager})
            self.fighting = f"fighting with manager {', '.join(managers) or 'unknown'}: self-heal paused"
            self.backoff = FIGHT_WINDOW
            self.log("fight", cluster=self.cluster.name, managers=",".join(managers))
            return False
        self.heals.append(now)
        self.fighting = ""
        return True

    async def _watch_resources(self, manager: ResourceManager, rendered: RenderedCluster) -> None:
        if self.watch is None:
            return
        resources = {}
        for obj in rendered.objects.values():
            with contextlib.suppress(UnknownKind):
                resource = await manager.resource(obj["apiVersion"], obj["kind"])
                resources[resource.collection_path()] = resource
        self.watch.update(list(resources.values()))

    def _failed(self, error: str, rendered: RenderedCluster | None) -> None:
        now = time.time()
        self.error_since = self.error_since or now
        self.backoff = min(MAX_BACKOFF, max(1.0, self.backoff * 2 or 1.0))
        self.log("error", cluster=self.cluster.name, error=error, retry_in=round(self.backoff, 1))
        self.publish(
            report.unknown(
                self.cluster,
                revision=rendered.revision if rendered else "",
                error=error,
                error_since=self.error_since,
                last_sync=iso(self.last_sync),
                last_sync_duration=self.last_duration,
            )
        )


def _identity(rendered: RenderedCluster) -> str:
    """What a sync applied: the revision and the release pin (waves can hold a cluster at an older pin)."""
    return json.dumps([rendered.revision, rendered.release], sort_keys=True, default=str)
