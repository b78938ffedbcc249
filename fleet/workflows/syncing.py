"""Sync and plan across the fleet: every selected cluster reconciles concurrently, and one unreachable,
slow or failing cluster never blocks or fails the others; its error and cause land in its own ChangeSet.

``sync_selection`` holds the rule every entry point keeps: everything is rendered and every kubeconfig
vetted before any cluster is touched, so bad input changes nothing anywhere.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from fleet.config import FleetConfig
from fleet.engine.manager import ResourceManager
from fleet.engine.sync import ClusterSync, SyncOptions
from fleet.errors import ClusterError, FleetError
from fleet.kube.api import ApiLimits
from fleet.kube.client import open_cluster
from fleet.kube.kubeconfig import load_kubeconfig
from fleet.model.changeset import ChangeSet
from fleet.model.cluster import Selection
from fleet.model.health import Code, Health
from fleet.model.rendered import RenderedCluster
from fleet.workflows.workspace import Workspace


@dataclass(frozen=True)
class FleetLimits:
    api: ApiLimits = field(default_factory=ApiLimits)
    cluster_timeout: float = 600.0  # a whole cluster's sync, waits included


def _failed(rendered: RenderedCluster, options: SyncOptions, started: float, message: str) -> ChangeSet:
    return ChangeSet(
        cluster=rendered.cluster.name,
        env=rendered.cluster.env,
        revision=rendered.revision,
        dry_run=options.dry_run,
        error=message,
        started_at=started,
        duration=time.time() - started,
        health=Health(Code.UNKNOWN, message),
    )


async def sync_cluster(
    rendered: RenderedCluster, config: FleetConfig, options: SyncOptions, *, limits: FleetLimits
) -> ChangeSet:
    started = time.time()
    try:
        api = await open_cluster(rendered.cluster, config, limits.api)
    except FleetError as exc:
        return _failed(rendered, options, started, str(exc))
    try:
        sync = ClusterSync(ResourceManager(api), rendered, options)
        return await asyncio.wait_for(sync.run(), limits.cluster_timeout)
    except TimeoutError:
        return _failed(rendered, options, started, f"sync did not finish within {limits.cluster_timeout:.0f}s")
    except ClusterError as exc:
        return _failed(rendered, options, started, exc.detail)
    finally:
        await api.close()


async def sync_fleet(
    rendered: Sequence[RenderedCluster],
    config: FleetConfig,
    options: SyncOptions,
    *,
    limits: FleetLimits | None = None,
    on_done: Callable[[ChangeSet], None] | None = None,
) -> list[ChangeSet]:
    """Sync every rendered cluster concurrently; results in the order of ``rendered``."""
    limits = limits or FleetLimits()

    async def one(item: RenderedCluster) -> ChangeSet:
        result = await sync_cluster(item, config, options, limits=limits)
        if on_done is not None:
            on_done(result)
        return result

    return list(await asyncio.gather(*(one(r) for r in rendered)))


def prepare(workspace: Workspace, selection: Selection) -> list[RenderedCluster]:
    """Render every selected cluster and vet every kubeconfig, before anything touches a cluster: bad input
    (a template, a value, a registry entry, a kubeconfig) fails here, with nothing applied anywhere."""
    clusters = workspace.select(selection)
    rendered = workspace.render_all(clusters)
    for cluster in clusters:
        load_kubeconfig(cluster, workspace.config)
    return rendered


async def sync_selection(
    workspace: Workspace,
    selection: Selection,
    options: SyncOptions,
    *,
    on_start: Callable[[int], None] | None = None,
    on_done: Callable[[ChangeSet], None] | None = None,
) -> list[ChangeSet]:
    """`fleet sync` and `fleet plan`: prepare everything, then sync the selected clusters concurrently."""
    rendered = await asyncio.to_thread(prepare, workspace, selection)
    if on_start is not None:
        on_start(len(rendered))
    return await sync_fleet(rendered, workspace.config, options, on_done=on_done)
