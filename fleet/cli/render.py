"""`fleet render`: what each selected cluster should run, exactly as fleet would apply it."""

from __future__ import annotations

import click

from fleet.cli.common import repo_options, selection_options
from fleet.manifest import dump_json, dump_yaml
from fleet.registry import Selection
from fleet.workspace import Workspace


@click.command()
@selection_options
@repo_options
@click.option("-o", "--output", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
def render(workspace: Workspace, selection: Selection, fmt: str) -> None:
    """Render the desired objects of the selected clusters (all enabled clusters by default).

    Output is deterministic: the same revision gives the same bytes on every run and machine. Every
    cluster is rendered before anything is printed, so a template error prints no partial output.
    """
    clusters = workspace.select(selection)
    rendered = workspace.render_all(clusters)
    objects = [obj for r in rendered for obj in r.objects.values()]
    click.echo(dump_yaml(objects) if fmt == "yaml" else dump_json(objects), nl=False)
