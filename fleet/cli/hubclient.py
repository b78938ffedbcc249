"""Reading the fleet report from a running hub (`fleet status --hub URL`, `fleet drift CLUSTER --hub URL`)."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from fleet.errors import FleetError, UsageError
from fleet.model.report import ClusterReport, FleetReport, cluster_from_dict

TIMEOUT = aiohttp.ClientTimeout(total=15)


async def _get(url: str) -> Any:
    try:
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session, session.get(url) as response:
            text = await response.text()
            if response.status == 404:
                raise UsageError(json.loads(text).get("error", "not found"))
            if response.status != 200:
                raise FleetError(f"hub answered {response.status} for {url}")
            return json.loads(text)
    except aiohttp.ClientError as exc:
        raise FleetError(f"cannot reach the hub at {url}: {exc}") from None
    except ValueError:
        raise FleetError(f"the hub at {url} did not answer JSON") from None


async def fleet_report(hub: str) -> FleetReport:
    return FleetReport.from_dict(await _get(hub.rstrip("/") + "/api/v1/fleet"))


async def cluster_drift(hub: str, cluster: str) -> ClusterReport:
    return cluster_from_dict(await _get(f"{hub.rstrip('/')}/api/v1/clusters/{cluster}/drift"))
