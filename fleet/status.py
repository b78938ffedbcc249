"""Live status: scan every selected cluster concurrently and build the fleet report. A cluster that
cannot be reached is Unknown with the reason; the others report normally."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from fleet import inventory as inv
from fleet.config import FleetConfig
from fleet.drift import DriftScan
from fleet.errors import ClusterError, FleetError
from fleet.health import Code, Health
from fleet.kube.api import ApiError, ApiLimits
from fleet.render.engine import RenderedCluster
from fleet.report import ClusterReport, FleetReport, SyncState, iso
from fleet.sync import open_cluster_api

SCAN_TIMEOUT = 60.0


async def cluster_report(
    rendered: RenderedCluster,
    config: FleetConfig,
    *,
    limits: ApiLimits | None = None,
    inventory_name: str = inv.NAME,
    timeout: float = SCAN_TIMEOUT,
    strict: bool = False,
) -> ClusterReport:
    cluster = rendered.cluster
    base = ClusterReport(name=cluster.name, env=cluster.env, labels=dict(cluster.labels), revision=rendered.revision)
    try:
        api = await open_cluster_api(rendered, config, limits or ApiLimits())
    except FleetError as exc:
        return _unknown(base, str(exc))
    try:
        scan = await asyncio.wait_for(
            DriftScan(api, rendered, inventory_name=inventory_name, strict=strict).run(), timeout
        )
    except TimeoutError:
        return _unknown(base, f"no complete answer within {timeout:.0f}s")
    except ClusterError as exc:
        return _unknown(base, exc.detail)
    except (ApiError, inv.InventoryError) as exc:
        return _unknown(base, str(exc))
    finally:
        await api.close()
    worst_key = next(
        (k for k, h in scan.object_health.items() if h == scan.health and h.code is not Code.HEALTHY), None
    )
    return ClusterReport(
        name=cluster.name,
        env=cluster.env,
        labels=dict(cluster.labels),
        revision=rendered.revision,
        applied_revision=scan.inventory.revision,
        sync=SyncState.OUT_OF_SYNC if scan.items else SyncState.SYNCED,
        health=scan.health,
        health_object=worst_key,
        drift=scan.items,
        last_sync=scan.inventory_written_at or None,
        error=None,
        release=dict(scan.inventory.release),
    )


def _unknown(base: ClusterReport, error: str) -> ClusterReport:
    return ClusterReport(
        name=base.name,
        env=base.env,
        labels=base.labels,
        revision=base.revision,
        sync=SyncState.UNKNOWN,
        health=Health(Code.UNKNOWN, error),
        error=error,
        error_since=iso(time.time()),
    )


async def fleet_report(
    rendered: Sequence[RenderedCluster],
    config: FleetConfig,
    *,
    limits: ApiLimits | None = None,
    inventory_name: str = inv.NAME,
    timeout: float = SCAN_TIMEOUT,
    strict: bool = False,
) -> FleetReport:
    reports = await asyncio.gather(
        *(
            cluster_report(r, config, limits=limits, inventory_name=inventory_name, timeout=timeout, strict=strict)
            for r in rendered
        )
    )
    return FleetReport(tuple(reports), iso(time.time()) or "")
