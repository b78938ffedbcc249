"""`fleet render`: what each selected cluster should run, exactly as fleet would apply it."""

from __future__ import annotations

import click

from fleet.cli import run
from fleet.cli.common import repo_options, selection_options
from fleet.errors import FleetError
from fleet.manifest import dump_json, dump_yaml
from fleet.model.cluster import Selection
from fleet.workflows.probing import check_served
from fleet.workflows.workspace import Workspace


class CheckFailed(FleetError):
    """--check found objects some cluster does not serve, or a cluster it could not ask."""


@click.command()
@selection_options
@repo_options
@click.option("-o", "--output", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
@click.option(
    "--check",
    is_flag=True,
    help="Instead of printing, ask each cluster (discovery only, no writes) whether it serves every "
    "rendered object's API version.",
)
def render(workspace: Workspace, selection: Selection, fmt: str, check: bool) -> None:
    """Render the desired objects of the selected clusters (all enabled clusters by default).

    Output is deterministic: the same revision gives the same bytes on every run and machine. Every
    cluster is rendered before anything is printed, so a template error prints no partial output.
    """
    clusters = workspace.select(selection)
    rendered = workspace.render_all(clusters)
    if check:
        problems = run(check_served(rendered, workspace.config))
        for line in problems:
            click.echo(line)
        if problems:
            raise CheckFailed(f"{len(problems)} of {len(rendered)} clusters cannot take this revision as it is")
        click.echo(f"every object's API is served by its cluster ({len(rendered)} clusters)")
        return
    clusters_of: dict[str, list[str]] = {}
    for r in rendered:
        for note in r.notes:
            clusters_of.setdefault(note, []).append(r.cluster.name)
    for note, names in clusters_of.items():
        click.echo(f"note ({', '.join(names)}): {note}", err=True)
    objects = [obj for r in rendered for obj in r.objects.values()]
    click.echo(dump_yaml(objects) if fmt == "yaml" else dump_json(objects), nl=False)
