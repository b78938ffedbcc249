"""The hub: holds the registry and the fleet report, fetches Git on an interval and on webhooks, and runs
one reconcile loop per cluster. State lives in Git and in the clusters' inventories, so a hub restarted
after any crash rebuilds everything it needs with no duplicate work."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path

from fleet.config import FleetConfig
from fleet.errors import FleetError
from fleet.hub.gitsource import GitSource
from fleet.hub.log import EventLog
from fleet.hub.loop import ClusterLoop, LoopSettings
from fleet.hub.metrics import HubMetrics
from fleet.registry import Cluster, Registry, Selection
from fleet.render.engine import RenderedCluster
from fleet.report import ClusterReport, FleetReport, iso
from fleet.workspace import Workspace


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


@dataclass
class HubState:
    reports: dict[str, ClusterReport] = field(default_factory=dict)
    revision: str = ""
    git_error: str | None = None
    git_error_since: float | None = None
    ready: bool = False


class Hub:
    def __init__(self, options: HubOptions, config: FleetConfig, log: EventLog | None = None) -> None:
        self.options = options
        self.config = config
        self.log = log or EventLog()
        self.metrics = HubMetrics()
        self.git = GitSource(options.repo, options.branch, options.state_dir)
        self.state = HubState()
        self.workspace: Workspace | None = None
        self.loops: dict[str, ClusterLoop] = {}
        self.fetch_now = asyncio.Event()
        self._render_cache: dict[tuple[str, str], RenderedCluster] = {}
        self._poller: asyncio.Task[None] | None = None

    # ---- Git ---------------------------------------------------------------------------------------

    async def refresh(self) -> None:
        """Fetch; on a new revision, reload the registry and wake every cluster."""
        try:
            fetched = await self.git.fetch()
        except FleetError as exc:
            now = time.time()
            self.state.git_error, self.state.git_error_since = str(exc), self.state.git_error_since or now
            self.log("git_error", error=str(exc))
            return
        self.metrics.git_fetch_seconds.observe(fetched.seconds)
        self.state.git_error = self.state.git_error_since = None
        if not fetched.changed and self.workspace is not None:
            return
        snapshot = await self.git.snapshot(fetched.revision)
        workspace = Workspace(snapshot, self.config, self.git.repository)
        try:
            registry = workspace.registry
        except FleetError as exc:
            # A broken registry in Git: keep managing the clusters of the last good revision.
            self.state.git_error = f"revision {fetched.revision[:12]} not applied: {exc}"
            self.log("registry_error", revision=fetched.revision[:12], error=str(exc))
            return
        self.workspace = workspace
        self.state.revision = fetched.revision
        self._render_cache = {k: v for k, v in self._render_cache.items() if k[1] == fetched.revision}
        self.log("revision", revision=fetched.revision[:12], clusters=len(registry.clusters))
        await self._reconcile_registry(registry)
        for loop in self.loops.values():
            loop.trigger(f"revision {fetched.revision[:12]}")
        self.state.ready = True

    async def _reconcile_registry(self, registry: Registry) -> None:
        wanted = {c.name: c for c in registry.clusters if c.enabled}
        for name in list(self.loops):
            if name not in wanted or wanted[name] != self.loops[name].cluster:
                loop = self.loops.pop(name)
                await loop.stop()
                self.state.reports.pop(name, None)
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
                    config=self.config,
                    metrics=self.metrics,
                    log=self.log,
                )
                self.loops[name] = loop
                loop.start()
                self.log("cluster_added", cluster=name, env=cluster.env)

    async def _render(self, cluster: Cluster) -> RenderedCluster:
        workspace = self.workspace
        assert workspace is not None
        key = (cluster.name, workspace.snapshot.revision)
        if key not in self._render_cache:
            # Templates compile once per revision in the workspace's renderer, shared by every cluster.
            self._render_cache[key] = await asyncio.to_thread(workspace.render, cluster)
        return self._render_cache[key]

    def _publish(self, report: ClusterReport) -> None:
        self.state.reports[report.name] = report

    # ---- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        await self.refresh()
        self._poller = asyncio.create_task(self._poll(), name="git poller")

    async def _poll(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.fetch_now.wait(), self.options.interval)
            self.fetch_now.clear()
            await self.refresh()

    async def stop(self) -> None:
        if self._poller:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        # In-flight applies are cancelled between requests; the inventory order keeps the cluster safe.
        await asyncio.gather(*(loop.stop() for loop in self.loops.values()))
        self.log("stopped")

    # ---- queries and requests ----------------------------------------------------------------------

    def report(self) -> FleetReport:
        names = sorted(self.state.reports)
        return FleetReport(tuple(self.state.reports[n] for n in names), iso(time.time()) or "")

    def request_sync(self, selection: Selection) -> list[str]:
        if self.workspace is None:
            return []
        chosen = [c.name for c in self.workspace.registry.select(selection) if c.name in self.loops]
        for name in chosen:
            self.loops[name].trigger("requested")
        return chosen
