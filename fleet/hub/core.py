"""The hub: holds the registry and the fleet report, fetches Git on an interval and on webhooks, and runs
one reconcile loop per cluster. State lives in Git and in the clusters' inventories, so a hub restarted
after any crash rebuilds everything it needs with no duplicate work."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path

from fleet.concurrency import cancelling, stop_task
from fleet.config import FleetConfig
from fleet.errors import FleetError, InputError
from fleet.hub.changes import Changes
from fleet.hub.log import EventLog
from fleet.hub.loop import REQUESTED, ClusterLoop, LoopSettings
from fleet.hub.metrics import HubMetrics
from fleet.hub.replication import Management, Replication
from fleet.hub.rollout import Rollout
from fleet.hub.waves import observed_releases, plan_rollouts
from fleet.kube.api import ApiLimits, ClusterApi
from fleet.kube.client import open_cluster
from fleet.model.cluster import Cluster, Registry, Selection, rollout_wave
from fleet.model.promotion import Pin
from fleet.model.rendered import RenderedCluster
from fleet.model.report import ClusterReport, FleetReport, iso
from fleet.model.vocabulary import release_path
from fleet.repo.envsettings import env_settings
from fleet.repo.mirror import GitSource
from fleet.repo.source import Snapshot
from fleet.workflows.promotion import commit_rollback
from fleet.workflows.workspace import Workspace


@dataclass(frozen=True)
class HubOptions:
    repo: str
    branch: str = "main"
    interval: float = 60.0  # Git poll and cluster resync
    self_heal: frozenset[str] = frozenset()  # envs whose drift is corrected
    state_dir: Path = Path(".")
    token: str | None = None  # bearer token for POST /api/v1/sync
    webhook_secret: str | None = None
    request_timeout: float = 20.0
    identity: str = ""  # this replica's name (in the User-Agent of its requests, so audit logs name it)


@dataclass
class HubState:
    reports: dict[str, ClusterReport] = field(default_factory=dict)
    revision: str = ""
    git_error: str | None = None
    git_error_since: float | None = None
    bad_revision: str = ""  # the newest fetched revision, when it could not be loaded (reported once)
    ready: bool = False


class Hub:
    def __init__(
        self,
        options: HubOptions,
        config: FleetConfig,
        log: EventLog | None = None,
        *,
        management: Management | None = None,
    ) -> None:
        self.options = options
        self.config = config
        self.log = log or EventLog()
        self.metrics = HubMetrics()
        self.git = GitSource(options.repo, options.branch, options.state_dir)
        self.state = HubState()
        self.workspace: Workspace | None = None
        self.loops: dict[str, ClusterLoop] = {}
        self.fetch_now = asyncio.Event()
        self.changes = Changes()
        self._render_cache: dict[tuple[str, str, int], RenderedCluster] = {}
        self._variants: dict[tuple[str, str, bytes], Workspace] = {}
        self._poller: asyncio.Task[None] | None = None
        self._ticker: asyncio.Task[None] | None = None
        self.rollouts: dict[str, Rollout] = {}
        self._background: set[asyncio.Task[None]] = set()
        self.local_changes = Changes()  # this replica's own reports only (what its peers follow)
        self.replication = (
            Replication(management, config, self.log, on_held=self._held_changed, on_peers=self._peers_changed)
            if management is not None
            else None
        )

    # ---- Git ---------------------------------------------------------------------------------------

    async def refresh(self) -> None:
        """Fetch; on a new revision, reload the registry and wake every cluster. Never raises: whatever a
        commit contains, the failure is reported and the hub keeps managing the last good revision."""
        before = self._headline()
        try:
            await self._refresh()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # content must never stop the hub; fleet's own errors are handled inside
            if cancelling():
                raise asyncio.CancelledError from None
            revision = self.git.revision
            self._revision_failed(revision, f"could not load revision {revision[:12]}: {type(exc).__name__}: {exc}")
        finally:
            if self._headline() != before:
                self.changes.bump()

    def _headline(self) -> tuple[object, ...]:
        """What a refresh can change besides cluster reports (which bump the changes themselves)."""
        rollouts = tuple((e, r.state, r.current, r.target) for e, r in sorted(self.rollouts.items()))
        return self.state.revision, self.state.git_error, rollouts, tuple(sorted(self.state.reports))

    def _revision_failed(self, revision: str, message: str) -> None:
        """The content of ``revision`` cannot be used: reported once, not retried until a new commit."""
        self.state.bad_revision = revision
        self._source_error("revision_error", message, revision=revision[:12])

    def _source_error(self, event: str, message: str, **fields: str) -> None:
        self.state.git_error, self.state.git_error_since = message, self.state.git_error_since or time.time()
        self.metrics.source_error.set(1)
        self.log(event, error=message, **fields)

    async def _refresh(self) -> None:
        try:
            fetched = await self.git.fetch()
        except FleetError as exc:
            self._source_error("git_error", str(exc))
            return
        self.metrics.git_fetch_seconds.observe(fetched.seconds)
        if fetched.revision == self.state.bad_revision:
            return  # already reported; the next commit is looked at when it arrives
        self.state.git_error = self.state.git_error_since = None
        self.metrics.source_error.set(0)
        if fetched.revision == self.state.revision and self.workspace is not None:
            return
        revision = fetched.revision[:12]
        try:
            snapshot = await self.git.snapshot(fetched.revision)
            workspace = Workspace(snapshot, self.config, self.git.repository)
            registry = workspace.registry
            for env in registry.envs:  # the fleet-level files must all hold before anything moves
                env_settings(snapshot, env)
                workspace.renderer.release(env)
        except InputError as exc:
            # A broken registry, env settings or release pin: keep managing the last good revision.
            self._revision_failed(fetched.revision, f"revision {revision} not applied: {exc}")
            return
        except FleetError as exc:
            # Reading Git failed (not the content): report it and try the same revision again next time.
            self._source_error("git_error", f"revision {revision}: {exc}", revision=revision)
            return
        self.workspace = workspace
        self.state.revision = fetched.revision
        self.state.bad_revision = ""
        self._render_cache = {k: v for k, v in self._render_cache.items() if k[1] == fetched.revision}
        self._variants = {k: v for k, v in self._variants.items() if k[0] == fetched.revision}
        self.log("revision", revision=revision, clusters=len(registry.clusters))
        try:
            observed = await observed_releases(registry, self.config, self._connect) if not self.rollouts else {}
            plan_rollouts(
                self.rollouts,
                workspace.snapshot,
                registry=registry,
                observed=observed,
                resolve=self.git.repository.resolve,
                log=self.log,
            )
        except Exception as exc:  # a rollout that cannot be planned must not keep the revision out
            self.log("rollout_error", revision=revision, error=f"{type(exc).__name__}: {exc}")
        await self._reconcile_registry(registry)
        for loop in self.loops.values():
            loop.trigger(f"revision {revision}")
        self.state.ready = True

    async def _reconcile_registry(self, registry: Registry) -> None:
        wanted = {c.name: c for c in registry.clusters if c.enabled}
        if self.replication is not None:
            self.replication.shards.set_clusters(wanted)
            wanted = {n: c for n, c in wanted.items() if self.replication.holds(n)}
        for name in list(self.loops):
            if name not in wanted or wanted[name] != self.loops[name].cluster:
                loop = self.loops.pop(name)
                await loop.stop()
                if self.state.reports.pop(name, None) is not None:
                    self.local_changes.bump()
                if name not in wanted:
                    # Its workloads stay: unmanaging a cluster must never delete what runs there.
                    self.log("cluster_removed", cluster=name)
        for name, cluster in wanted.items():
            if name not in self.loops:
                settings = LoopSettings(
                    interval=self.options.interval,
                    self_heal=cluster.env in self.options.self_heal,
                    inventory=self.config.inventory,
                    limits_timeout=self.options.request_timeout,
                )
                loop = ClusterLoop(
                    cluster,
                    settings=settings,
                    render=self._render,
                    publish=self._publish,
                    connect=self._connect,
                    config=self.config,
                    metrics=self.metrics,
                    log=self.log,
                )
                self.loops[name] = loop
                loop.start()
                self.log("cluster_added", cluster=name, env=cluster.env)

    async def _connect(self, cluster: Cluster, limits: ApiLimits) -> ClusterApi:
        return await open_cluster(
            cluster,
            self.config,
            limits,
            fence=self.replication.shards.fence(cluster.name) if self.replication else None,
            user_agent=f"fleet-hub/{self.options.identity}" if self.options.identity else None,
            credentials=self.replication.credentials if self.replication else None,
        )

    # ---- shards ------------------------------------------------------------------------------------

    async def _held_changed(self) -> None:
        if self.workspace is not None:
            await self._reconcile_registry(self.workspace.registry)
        self.changes.bump()

    def _peers_changed(self) -> None:
        self.changes.bump()
        for env in list(self.rollouts):
            self._advance(env)

    def all_reports(self) -> dict[str, ClusterReport]:
        """Every cluster's report (with replicas: this one's and its peers')."""
        return self.replication.reports(self.state.reports) if self.replication else self.state.reports

    async def _render(self, cluster: Cluster) -> RenderedCluster:
        workspace = self.workspace
        assert workspace is not None
        path = release_path(cluster.env)
        rollout = self.rollouts.get(cluster.env)
        pin = rollout.pin_for(rollout_wave(cluster)) if rollout else workspace.snapshot.files.get(path, b"")
        if pin != workspace.snapshot.files.get(path, b""):
            # A later wave still runs the previous release pin: render with that pin.
            workspace = self._variant(workspace, path, pin)
        key = (cluster.name, workspace.snapshot.revision, hash(pin))
        if key not in self._render_cache:
            # Templates compile once per revision in the workspace's renderer, shared by every cluster.
            try:
                self._render_cache[key] = await asyncio.to_thread(workspace.render, cluster)
            except FleetError as exc:
                raise FleetError(f"revision {workspace.snapshot.revision[:12]}: {exc}") from None
        return self._render_cache[key]

    def _variant(self, workspace: Workspace, path: str, pin: bytes) -> Workspace:
        key = (workspace.snapshot.revision, path, pin)
        if key not in self._variants:
            snapshot = workspace.snapshot
            files = {**snapshot.files, path: pin}
            self._variants[key] = Workspace(
                Snapshot(snapshot.revision, files, snapshot.root), self.config, self.git.repository
            )
        return self._variants[key]

    def _publish(self, report: ClusterReport) -> None:
        if self.replication is not None and not self.replication.holds(report.name):
            return  # a last report from a loop being stopped: another replica speaks for the cluster now
        if self.state.reports.get(report.name) != report:
            self.state.reports[report.name] = report
            self.changes.bump()
            self.local_changes.bump()
        self._advance(report.env)

    def _advance(self, env: str) -> None:
        rollout = self.rollouts.get(env)
        if rollout is None or rollout.state != "progressing":
            return
        before = (rollout.current, rollout.state)
        try:
            self._move(rollout, env)
        finally:
            if (rollout.current, rollout.state) != before:
                self.changes.bump()

    def _move(self, rollout: Rollout, env: str) -> None:
        for name in rollout.advance(self.all_reports()):
            if name in self.loops:
                self.loops[name].trigger(f"wave released in {env}")
        if rollout.state == "complete":
            self.log("rollout", env=env, state="complete")
        elif rollout.state == "halted":
            self.log("rollout", env=env, state="halted", reason=rollout.reason)
            if rollout.settings.auto_rollback and not rollout.rolled_back and self._coordinates(env):
                rollout.rolled_back = True
                task = asyncio.create_task(self._auto_rollback(rollout), name=f"rollback {env}")
                self._background.add(task)
                task.add_done_callback(self._background.discard)

    def _coordinates(self, env: str) -> bool:
        """Whether this replica writes the env's automatic rollback (one replica per env, by the same
        hashing as clusters); every replica follows the rollout from the shared reports."""
        return self.replication is None or self.replication.coordinates(f"env/{env}")

    async def _auto_rollback(self, rollout: Rollout) -> None:
        env = rollout.env
        try:
            pin = Pin.parse(rollout.previous, release_path(env))
            pushed = await asyncio.to_thread(
                commit_rollback,
                self.git.repository,
                branch=self.options.branch,
                env=env,
                pin=pin,
                message=f"automatic rollback: {rollout.reason}",
                automatic=True,
            )
            self.log("auto_rollback", env=env, commit=pushed.sha[:12], reason=rollout.reason)
        except FleetError as exc:
            self.log("auto_rollback_failed", env=env, error=str(exc))
        self.fetch_now.set()

    # ---- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        await self.refresh()
        if self.replication is not None:
            self.replication.start()
        self._poller = asyncio.create_task(self._poll(), name="git poller")
        self._ticker = asyncio.create_task(self._tick(), name="rollout timer")

    async def _tick(self) -> None:
        """Wave timeouts need a clock, not only reports."""
        while True:
            await asyncio.sleep(1.0)
            for env in list(self.rollouts):
                self._advance(env)

    async def _poll(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.fetch_now.wait(), self.options.interval)
            self.fetch_now.clear()
            await self.refresh()  # never raises: the poller outlives any commit

    @property
    def polling(self) -> bool:
        """Whether the Git poller is running (readiness depends on it)."""
        return self._poller is not None and not self._poller.done()

    async def stop(self) -> None:
        for task in (self._poller, self._ticker, *self._background):
            if task:
                await stop_task(task)
        if self.replication is not None:
            await self.replication.stop()
        # In-flight applies are cancelled between requests; the inventory order keeps the cluster safe.
        await asyncio.gather(*(loop.stop() for loop in self.loops.values()))
        self.log("stopped")

    # ---- queries and requests ----------------------------------------------------------------------

    def report(self) -> FleetReport:
        reports = self.all_reports()
        return FleetReport(tuple(reports[n] for n in sorted(reports)), iso(time.time()) or "")

    def request_sync(self, selection: Selection) -> list[str]:
        if self.workspace is None:
            return []
        chosen = [c.name for c in self.workspace.registry.select(selection) if c.name in self.loops]
        for name in chosen:
            self.loops[name].trigger(REQUESTED)
        return chosen
