"""Probing the registry's clusters: is each kubeconfig usable (vetted), is each API server reachable, does
the Kubernetes version it runs match what the registry declares, and does it serve every API version a
revision renders for it (`fleet render --check`: discovery only, no writes)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from fleet.config import FleetConfig
from fleet.engine.manager import ResourceManager
from fleet.errors import FleetError
from fleet.kube.api import ApiError, ApiLimits
from fleet.kube.client import open_cluster, server_version
from fleet.kube.kubeconfig import load_kubeconfig
from fleet.model.cluster import Cluster
from fleet.model.rendered import RenderedCluster
from fleet.model.served import describe

PROBE_TIMEOUT = 5.0


@dataclass(frozen=True)
class Probe:
    kubeconfig: str  # ok | the reason it is not usable
    reachable: bool
    version: str
    error: str

    @property
    def summary(self) -> str:
        return self.version if self.reachable else self.error


async def probe(cluster: Cluster, config: FleetConfig) -> Probe:
    try:
        resolved = load_kubeconfig(cluster, config)
    except FleetError as exc:
        return Probe(getattr(exc, "detail", str(exc)), False, "", "kubeconfig unusable")
    try:
        version = await server_version(resolved, timeout=PROBE_TIMEOUT)
    except TimeoutError:
        return Probe("ok", False, "", f"no answer from {resolved.server} within {PROBE_TIMEOUT:.0f}s")
    except Exception as exc:  # any transport or API failure is reported, never raised
        return Probe("ok", False, "", f"unreachable: {_reason(exc)}")
    return Probe("ok", True, version, "")


async def probe_all(clusters: Sequence[Cluster], config: FleetConfig) -> list[Probe]:
    return list(await asyncio.gather(*(probe(c, config) for c in clusters)))


def _reason(exc: Exception) -> str:
    status = getattr(exc, "status", None)
    if status:
        return f"HTTP {status} {getattr(exc, 'reason', '')}".strip()
    text = str(exc).split("\n", 1)[0]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def version_mismatch(cluster: Cluster, found: Probe | None) -> str | None:
    """The registry's kubernetesVersion (what templates branch on) against the version the cluster runs."""
    if found is None or not found.reachable or not cluster.kubernetes_version:
        return None
    live = ".".join(found.version.lstrip("v").split(".")[:2])
    if live == cluster.kubernetes_version:
        return None
    return (
        f"{cluster.source} declares kubernetesVersion {cluster.kubernetes_version}, the cluster runs "
        f"{found.version}: templates render for the declared version; update the entry"
    )


async def check_served(rendered: Sequence[RenderedCluster], config: FleetConfig) -> list[str]:
    """One line per cluster that does not serve an API version its objects use, or cannot be asked."""
    found = await asyncio.gather(*(_check(r, config) for r in rendered))
    return [line for line in found if line]


async def _check(rendered: RenderedCluster, config: FleetConfig) -> str:
    name = rendered.cluster.name
    try:
        api = await open_cluster(rendered.cluster, config, ApiLimits(timeout=10.0))
    except FleetError as exc:
        return f"{name}: cannot check: {exc}"
    manager = ResourceManager(api)
    try:
        unserved = await manager.unserved(rendered.objects)
        return f"{name}: {describe(unserved, name, await manager.server_version())}" if unserved else ""
    except (FleetError, ApiError) as exc:
        return f"{name}: cannot check: {exc}"
    finally:
        await api.close()
