"""The whole fleet at once: every selected cluster reconciles concurrently, and one unreachable, slow or
failing cluster never blocks or fails the others; its error and cause land in its own ChangeSet."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from fleet.apply import ClusterSync, SyncOptions
from fleet.changeset import ChangeSet
from fleet.config import FleetConfig
from fleet.errors import ClusterError, FleetError
from fleet.health import Code, Health
from fleet.kube.api import ApiLimits, ClusterApi
from fleet.kube.client import cluster_client
from fleet.kube.kubeconfig import load_kubeconfig
from fleet.render.engine import RenderedCluster


@dataclass(frozen=True)
class FleetLimits:
    api: ApiLimits = field(default_factory=ApiLimits)
    cluster_timeout: float = 600.0  # a whole cluster's sync, waits included


async def open_cluster_api(rendered: RenderedCluster, config: FleetConfig, limits: ApiLimits) -> ClusterApi:
    resolved = load_kubeconfig(rendered.cluster, config)
    return ClusterApi(rendered.cluster.name, await cluster_client(resolved), limits)


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
    rendered: RenderedCluster, config: FleetConfig, options: SyncOptions, limits: FleetLimits
) -> ChangeSet:
    started = time.time()
    try:
        api = await open_cluster_api(rendered, config, limits.api)
    except FleetError as exc:
        return _failed(rendered, options, started, str(exc))
    try:
        return await asyncio.wait_for(ClusterSync(api, rendered, options).run(), limits.cluster_timeout)
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
    limits: FleetLimits | None = None,
    on_done: Callable[[ChangeSet], None] | None = None,
) -> list[ChangeSet]:
    """Sync every rendered cluster concurrently; results in the order of ``rendered``."""
    limits = limits or FleetLimits()

    async def one(item: RenderedCluster) -> ChangeSet:
        result = await sync_cluster(item, config, options, limits)
        if on_done is not None:
            on_done(result)
        return result

    return list(await asyncio.gather(*(one(r) for r in rendered)))
