"""`fleet status` (the fleet-wide report) and `fleet drift CLUSTER` (one cluster's drift, per object)."""

from __future__ import annotations

import click

from fleet.cli import hubclient, run
from fleet.cli import reportview as view
from fleet.cli.common import repo_options, selection_options
from fleet.errors import FleetError
from fleet.model.cluster import Selection
from fleet.model.report import FleetReport
from fleet.output import to_json, to_yaml
from fleet.workflows.status import status_of
from fleet.workflows.workspace import Workspace

NOT_CONVERGED_EXIT = 3


def _need(workspace: Workspace | None) -> Workspace:
    assert workspace is not None
    return workspace


class NotConverged(FleetError):
    """--exit-code: some selected cluster is OutOfSync, drifted, not Healthy or unreachable."""

    exit_code = NOT_CONVERGED_EXIT


def _report(workspace: Workspace, selection: Selection, *, strict: bool = False) -> FleetReport:
    return run(status_of(workspace, selection, strict=strict))


def _from_hub(hub: str, selection: Selection) -> FleetReport:
    return run(hubclient.fleet_report(hub)).selected(selection)


hub_option = click.option(
    "--hub", default=None, help="Read the report from a running hub (URL) instead of the clusters."
)
strict_option = click.option(
    "--strict",
    is_flag=True,
    help="Also count labels and annotations that another tool or person added (not fleet's fields).",
)


@click.command()
@selection_options
@repo_options
@click.option(
    "-o", "--output", "fmt", type=click.Choice(["table", "wide", "json", "yaml"]), default="table", show_default=True
)
@click.option("--exit-code", is_flag=True, help="Exit 3 unless every selected cluster is Synced and Healthy.")
@hub_option
@strict_option
def status(
    workspace: Workspace | None, selection: Selection, fmt: str, exit_code: bool, hub: str | None, strict: bool
) -> None:
    """The fleet at a glance: sync state, health and drift of every selected cluster, grouped by env.

    Queries the clusters live and concurrently; an unreachable cluster shows as Unknown with the reason.
    """
    report = _from_hub(hub, selection) if hub else _report(_need(workspace), selection, strict=strict)
    if fmt == "json":
        click.echo(to_json(report.to_dict()))
    elif fmt == "yaml":
        click.echo(to_yaml(report.to_dict()), nl=False)
    else:
        click.echo(view.status_table(report, wide=fmt == "wide"))
    if exit_code and not report.ok:
        bad = [c.name for c in report.clusters if not c.ok]
        raise NotConverged(f"not Synced and Healthy: {', '.join(bad)}")


@click.command()
@click.argument("cluster")
@repo_options
@click.option("-o", "--output", "fmt", type=click.Choice(["text", "json", "yaml"]), default="text", show_default=True)
@click.option("--exit-code", is_flag=True, help="Exit 3 when the cluster has drift.")
@hub_option
@strict_option
def drift(workspace: Workspace | None, cluster: str, fmt: str, exit_code: bool, hub: str | None, strict: bool) -> None:
    """One cluster's drift: every object that differs from Git, field by field, with who changed it."""
    if hub:
        report = run(hubclient.cluster_drift(hub, cluster))
    else:
        report = _report(_need(workspace), Selection(clusters=(cluster,)), strict=strict).clusters[0]
    if fmt == "text":
        click.echo(view.drift_text(report))
    else:
        data = report.to_dict(with_items=True)
        click.echo(to_json(data) if fmt == "json" else to_yaml(data), nl=fmt == "json")
    if report.error:
        raise FleetError(f"cluster {cluster} could not be read: {report.error}")
    if exit_code and report.drift:
        raise NotConverged(f"{cluster} has {len(report.drift)} drifted objects")
