"""`fleet clusters`: the registry, with whether each kubeconfig is usable and each cluster reachable."""

from __future__ import annotations

from pathlib import Path

import click

from fleet.cli import run
from fleet.cli.common import repo_options, selection_options
from fleet.model.cluster import Cluster, Selection
from fleet.output import table, to_json
from fleet.workflows.probing import Probe, probe_all, version_mismatch
from fleet.workflows.workspace import Workspace


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

    probes: list[Probe | None] = [None] * len(chosen) if no_probe else list(run(probe_all(chosen, workspace.config)))
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
        mismatch = version_mismatch(cluster, found)
        if mismatch:
            click.echo(f"{cluster.name}: {mismatch}")


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
            versionMismatch=version_mismatch(cluster, probe_result),
        )
    return data
