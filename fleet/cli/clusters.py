"""`fleet clusters`: the registry, with whether each kubeconfig is usable and each cluster reachable."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import click

from fleet.cli import run
from fleet.cli.common import repo_options, selection_options
from fleet.errors import FleetError
from fleet.kube.client import server_version
from fleet.kube.kubeconfig import load_kubeconfig
from fleet.output import table, to_json
from fleet.registry import Cluster, Selection
from fleet.workspace import Workspace

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


async def probe(cluster: Cluster, workspace: Workspace) -> Probe:
    try:
        resolved = load_kubeconfig(cluster, workspace.config)
    except FleetError as exc:
        return Probe(getattr(exc, "detail", str(exc)), False, "", "kubeconfig unusable")
    try:
        version = await server_version(resolved, timeout=PROBE_TIMEOUT)
    except TimeoutError:
        return Probe("ok", False, "", f"no answer from {resolved.server} within {PROBE_TIMEOUT:.0f}s")
    except Exception as exc:  # any transport or API failure is reported, never raised
        return Probe("ok", False, "", f"unreachable: {_reason(exc)}")
    return Probe("ok", True, version, "")


def _reason(exc: Exception) -> str:
    status = getattr(exc, "status", None)
    if status:
        return f"HTTP {status} {getattr(exc, 'reason', '')}".strip()
    text = str(exc).split("\n", 1)[0]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@click.command()
@selection_options
@repo_options
@click.option("-o", "--output", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--no-probe", is_flag=True, help="Do not contact the clusters.")
def clusters(workspace: Workspace, selection: Selection, fmt: str, no_probe: bool) -> None:
    """List the registry (clusters/) and check each cluster's kubeconfig and API server.

    Credentials are never printed: only the kubeconfig's path, whether it is usable, and the API server's
    version or the reason it could not be reached.
    """
    chosen = workspace.registry.select(Selection(**{**selection.__dict__, "include_disabled": True}))

    async def probe_all() -> list[Probe | None]:
        if no_probe:
            return [None] * len(chosen)
        return list(await asyncio.gather(*(probe(c, workspace) for c in chosen)))

    probes = run(probe_all())
    if fmt == "json":
        click.echo(to_json({"clusters": [_as_dict(c, p) for c, p in zip(chosen, probes, strict=True)]}))
        return
    rows = [
        [
            c.name,
            c.env,
            ",".join(f"{k}={v}" for k, v in sorted(c.labels.items())),
            "yes" if c.enabled else "no",
            _short(c.kubeconfig),
            "-" if p is None else (p.summary if p.kubeconfig == "ok" else p.kubeconfig),
        ]
        for c, p in zip(chosen, probes, strict=True)
    ]
    click.echo(table(["NAME", "ENV", "LABELS", "ENABLED", "KUBECONFIG", "API"], rows))
    for cluster, found in zip(chosen, probes, strict=True):
        mismatch = _version_mismatch(cluster, found)
        if mismatch:
            click.echo(f"{cluster.name}: {mismatch}")


def _version_mismatch(cluster: Cluster, found: Probe | None) -> str | None:
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


def _short(path: object) -> str:
    home = str(Path.home())
    text = str(path)
    return "~" + text[len(home) :] if text.startswith(home + "/") else text


def _as_dict(cluster: Cluster, probe_result: Probe | None) -> dict[str, object]:
    data: dict[str, object] = {
        "name": cluster.name,
        "env": cluster.env,
        "labels": dict(sorted(cluster.labels.items())),
        "enabled": cluster.enabled,
        "kubeconfig": str(cluster.kubeconfig),
        "context": cluster.context,
        "kubernetesVersion": cluster.kubernetes_version or None,
    }
    if probe_result is not None:
        data.update(
            kubeconfigStatus=probe_result.kubeconfig,
            reachable=probe_result.reachable,
            version=probe_result.version or None,
            error=probe_result.error or None,
            versionMismatch=_version_mismatch(cluster, probe_result),
        )
    return data
