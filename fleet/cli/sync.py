"""`fleet sync` and `fleet plan`: make the selected clusters match Git, or show what that would change."""

from __future__ import annotations

import json
from collections.abc import Sequence

import click

from fleet.apply import SyncOptions
from fleet.changeset import Action, ChangeSet
from fleet.cli import run
from fleet.cli.common import repo_options, selection_options
from fleet.errors import FleetError
from fleet.output import table, to_json
from fleet.registry import Selection
from fleet.sync import sync_fleet
from fleet.workspace import Workspace

HEADERS = ("CLUSTER", "ENV", "REVISION", "CREATED", "CONFIGURED", "UNCHANGED", "DELETED", "FAILED", "HEALTH", "TIME")
SHOWN = (Action.CREATED, Action.CONFIGURED, Action.DELETED, Action.SKIPPED, Action.FAILED)


class SyncFailed(FleetError):
    """At least one cluster failed; the report was printed already."""


def _short(revision: str) -> str:
    return revision[:12] if len(revision) == 40 else revision


def summary_table(results: Sequence[ChangeSet]) -> str:
    rows = []
    for cs in results:
        counts = cs.counts
        rows.append(
            [
                cs.cluster,
                cs.env,
                _short(cs.revision),
                counts[Action.CREATED],
                counts[Action.CONFIGURED],
                counts[Action.UNCHANGED],
                counts[Action.DELETED],
                counts[Action.FAILED],
                "error" if cs.error else cs.health.code.label,
                f"{cs.duration:.1f}s",
            ]
        )
    headers = [
        "CLUSTER",
        "ENV",
        "REVISION",
        "CREATED",
        "CONFIGURED",
        "UNCHANGED",
        "DELETED",
        "FAILED",
        "HEALTH",
        "TIME",
    ]
    return table(headers, rows)


def details(results: Sequence[ChangeSet], *, show_diff: bool) -> str:
    lines = []
    for cs in results:
        if cs.error:
            lines.append(f"{cs.cluster}: error: {cs.error}")
            continue
        for change in cs.changes:
            if change.action not in SHOWN:
                continue
            message = f": {change.message}" if change.message else ""
            lines.append(f"{cs.cluster}: {change.action.value} {change.key}{message}")
            if show_diff:
                for diff in change.diff:
                    lines.append(f"    {diff.path}: {_value(diff.live)} -> {_value(diff.desired)}")
        if cs.health.code.value and not cs.error:
            lines.append(f"{cs.cluster}: health {cs.health.code.label}: {cs.health.message}")
    return "\n".join(lines)


def _value(value: object) -> str:
    if value is None:
        return "(absent)"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return repr(value) if isinstance(value, str) else str(value)


def _run(workspace: Workspace, selection: Selection, options: SyncOptions) -> list[ChangeSet]:
    clusters = workspace.select(selection)
    # Everything is rendered before any cluster is touched: bad input changes nothing anywhere.
    rendered = [workspace.render(c) for c in clusters]
    return run(sync_fleet(rendered, workspace.config, options))


def _print(results: list[ChangeSet], fmt: str, *, show_diff: bool) -> None:
    if fmt == "json":
        click.echo(to_json({"clusters": [cs.to_dict() for cs in results]}))
    else:
        click.echo(summary_table(results))
        text = details(results, show_diff=show_diff)
        if text:
            click.echo("\n" + text)
    failed = [cs.cluster for cs in results if cs.failed]
    if failed:
        raise SyncFailed(f"{len(failed)} of {len(results)} clusters failed: {', '.join(failed)}")


output_option = click.option(
    "-o", "--output", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)


@click.command()
@selection_options
@repo_options
@click.option("--prune/--no-prune", default=True, show_default=True, help="Delete what left Git.")
@click.option("--force-prune", is_flag=True, help="Prune even beyond the safety limit.")
@click.option("--max-prune-ratio", type=click.FloatRange(0, 1), default=0.5, show_default=True)
@click.option("--wait", is_flag=True, help="Wait until every object is Healthy (or Degraded).")
@click.option("--timeout", "wait_timeout", type=float, default=180.0, show_default=True, help="Seconds for --wait.")
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
    )
    _print(_run(workspace, selection, options), fmt, show_diff=dry_run)


@click.command()
@selection_options
@repo_options
@click.option("--prune/--no-prune", default=True, show_default=True)
@output_option
def plan(workspace: Workspace, selection: Selection, prune: bool, fmt: str) -> None:
    """Show what `fleet sync` would change on each selected cluster, field by field, without writing."""
    _print(_run(workspace, selection, SyncOptions(dry_run=True, prune=prune)), fmt, show_diff=True)
