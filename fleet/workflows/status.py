"""Live status: scan every selected cluster concurrently and build the fleet report. A cluster that
cannot be reached is Unknown with the reason; the others report normally."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from fleet.config import FleetConfig
from fleet.engine.drift import DriftScan
from fleet.engine.manager import ResourceManager
from fleet.errors import ClusterError, FleetError
from fleet.kube.api import ApiError, ApiLimits
from fleet.kube.client import open_cluster
from fleet.model import report
from fleet.model.cluster import Selection
from fleet.model.inventory import InventoryError
from fleet.model.rendered import RenderedCluster
from fleet.model.report import ClusterReport, FleetReport, iso
from fleet.model.vocabulary import INVENTORY_NAME
from fleet.workflows.workspace import Workspace

SCAN_TIMEOUT = 60.0


async def cluster_report(
    rendered: RenderedCluster,
    config: FleetConfig,
    *,
    limits: ApiLimits | None = None,
    inventory_name: str = INVENTORY_NAME,
    timeout: float = SCAN_TIMEOUT,
    strict: bool = False,
) -> ClusterReport:
    cluster, revision = rendered.cluster, rendered.revision
    try:
        api = await open_cluster(cluster, config, limits)
    except FleetError as exc:
        return report.unknown(cluster, revision=revision, error=str(exc), error_since=time.time())
    try:
        scan = DriftScan(ResourceManager(api), rendered, inventory_name=inventory_name, strict=strict)
        drift = await asyncio.wait_for(scan.run(), timeout)
    except TimeoutError:
        error = f"no complete answer within {timeout:.0f}s"
        return report.unknown(cluster, revision=revision, error=error, error_since=time.time())
    except ClusterError as exc:
        return report.unknown(cluster, revision=revision, error=exc.detail, error_since=time.time())
    except (ApiError, InventoryError) as exc:
        return report.unknown(cluster, revision=revision, error=str(exc), error_since=time.time())
    finally:
        await api.close()
    # Without a hub's memory of its syncs, the last write of the inventory is the last sync that changed
    # anything.
    return report.scanned(cluster, revision=revision, scan=drift, last_sync=drift.inventory_written_at or None)


async def fleet_report(
    rendered: Sequence[RenderedCluster],
    config: FleetConfig,
    *,
    limits: ApiLimits | None = None,
    inventory_name: str = INVENTORY_NAME,
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


async def status_of(workspace: Workspace, selection: Selection, *, strict: bool = False) -> FleetReport:
    """`fleet status` and `fleet drift` without a hub: render the selected clusters and scan them live."""
    rendered = await asyncio.to_thread(workspace.render_all, workspace.select(selection))
    config = workspace.config
    return await fleet_report(rendered, config, inventory_name=config.inventory, strict=strict)
