"""`fleet sync` and `fleet plan`: make the selected clusters match Git, or show what that would change."""

from __future__ import annotations

import sys

import click

from fleet.cli import run
from fleet.cli import syncview as view
from fleet.cli.common import DURATION, repo_options, selection_options
from fleet.engine.sync import SyncOptions
from fleet.errors import FleetError
from fleet.model.changeset import ChangeSet
from fleet.model.cluster import Selection
from fleet.model.health import Code
from fleet.output import to_json
from fleet.workflows.syncing import sync_selection
from fleet.workflows.workspace import Workspace


class SyncFailed(FleetError):
    """At least one cluster failed; the report was printed already."""


def _run(workspace: Workspace, selection: Selection, options: SyncOptions) -> list[ChangeSet]:
    progress = sys.stderr.isatty()

    def started(count: int) -> None:
        if progress:
            click.echo(f"{'planning' if options.dry_run else 'syncing'} {count} clusters ...", err=True)

    def done(cs: ChangeSet) -> None:
        if progress:
            state = "error" if cs.error else ("failed" if cs.failed else "done")
            click.echo(f"  {cs.cluster}: {state} in {cs.duration:.1f}s", err=True)

    return run(sync_selection(workspace, selection, options, on_start=started, on_done=done))


def _print(
    results: list[ChangeSet], fmt: str, *, show_diff: bool, require_healthy: bool = False, require_match: bool = False
) -> None:
    if fmt == "json":
        click.echo(to_json({"clusters": [cs.to_dict() for cs in results]}))
    elif fmt == "markdown":
        click.echo(view.markdown(results))
    else:
        click.echo(view.summary_table(results))
        text = view.details(results, show_diff=show_diff)
        if text:
            click.echo("\n" + text)
    failed = [cs.cluster for cs in results if cs.failed]
    if failed:
        raise SyncFailed(f"{len(failed)} of {len(results)} clusters failed: {', '.join(failed)}")
    behind = [cs.cluster for cs in results if cs.pending]
    if require_match and behind:
        raise SyncFailed(f"{len(behind)} of {len(results)} clusters do not match Git: {', '.join(behind)}")
    unhealthy = [cs for cs in results if cs.health.code is not Code.HEALTHY]
    if require_healthy and unhealthy:
        for cs in unhealthy:
            for change in cs.changes:
                health = change.health
                if health is not None and health.code is not Code.HEALTHY:
                    why = "cannot recover without a change" if health.terminal else "not ready when the wait ended"
                    click.echo(f"{cs.cluster}: {change.key} {health.code.label} ({why}): {health.message}", err=True)
        names = ", ".join(f"{cs.cluster} ({cs.health.code.label})" for cs in unhealthy)
        raise SyncFailed(f"synced, but not Healthy: {names}")


output_option = click.option(
    "-o", "--output", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)


@click.command()
@selection_options
@repo_options
@click.option("--prune/--no-prune", default=True, show_default=True, help="Delete what left Git.")
@click.option("--force-prune", is_flag=True, help="Prune even beyond the safety limit.")
@click.option("--max-prune-ratio", type=click.FloatRange(0, 1), default=0.5, show_default=True)
@click.option(
    "--wait", is_flag=True, help="Wait until every object is Healthy (or failed beyond recovery), up to --timeout."
)
@click.option(
    "--timeout", "wait_timeout", type=DURATION, default="180s", show_default=True, help="For --wait: 90s, 5m."
)
@click.option("--force-conflicts", is_flag=True, help="Take over fields that another field manager owns.")
@click.option("--dry-run", is_flag=True, help="Same as `fleet plan`.")
@output_option
def sync(
    workspace: Workspace,
    selection: Selection,
    prune: bool,
    force_prune: bool,
    max_prune_ratio: float,
    wait: bool,
    wait_timeout: float,
    force_conflicts: bool,
    dry_run: bool,
    fmt: str,
) -> None:
    """Apply what Git renders for the selected clusters (all enabled clusters by default), all at once.

    Objects go through server-side apply (field manager `fleet`) in dependency order; only objects whose
    dry run differs from the live object are written. What left Git is pruned from the in-cluster inventory.
    """
    options = SyncOptions(
        dry_run=dry_run,
        prune=prune,
        max_prune_ratio=max_prune_ratio,
        force_prune=force_prune,
        wait=wait,
        wait_timeout=wait_timeout,
        force_conflicts=force_conflicts,
        inventory=workspace.config.inventory,
    )
    _print(_run(workspace, selection, options), fmt, show_diff=dry_run, require_healthy=wait, require_match=not dry_run)


@click.command()
@selection_options
@repo_options
@click.option("--prune/--no-prune", default=True, show_default=True)
@click.option(
    "-o", "--output", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True
)
def plan(workspace: Workspace, selection: Selection, prune: bool, fmt: str) -> None:
    """Show what `fleet sync` would change on each selected cluster, field by field, without writing.

    Computed with server-side dry runs against the live clusters. `--ref BRANCH` plans a branch before it
    is merged; `-o markdown` is meant for a pull-request comment.
    """
    options = SyncOptions(dry_run=True, prune=prune, inventory=workspace.config.inventory)
    _print(_run(workspace, selection, options), fmt, show_diff=True)
