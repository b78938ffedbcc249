"""`fleet promote`, `fleet history`, `fleet rollback`: moving releases between envs as Git commits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from fleet.cli import run, syncview
from fleet.config import FleetConfig
from fleet.output import table, to_json
from fleet.repo.source import Repository
from fleet.workflows.promotion import (
    PromotionRefused,
    check_env,
    commit_promotion,
    commit_rollback,
    gate_promotion,
    history,
    open_for_writing,
    pin_to_restore,
    plan_promotion,
)
from fleet.workflows.workspace import Workspace


def _repo_options(func: Any) -> Any:
    func = click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="The hub's own config (credentials dir, inventory name).",
    )(func)
    func = click.option(
        "--repo", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True
    )(func)
    return click.option("--base", "base_branch", default=None, help="Branch to commit to (default: the current one).")(
        func
    )


@click.command()
@click.option("--from", "source", required=True, help="The env whose release is promoted.")
@click.option("--to", "target", required=True, help="The env that receives it.")
@click.option("--dry-run", is_flag=True, help="Check the gates and show what would change on the target's clusters.")
@click.option("--branch", "new_branch", default=None, help="Push to this new branch (for a pull request).")
@click.option("--message", "-m", default="", help="Why: recorded in the commit.")
@click.option("--force", is_flag=True, help="Promote although gates fail (recorded in the commit).")
@_repo_options
def promote(
    source: str,
    target: str,
    dry_run: bool,
    new_branch: str | None,
    message: str,
    force: bool,
    repo: Path,
    base_branch: str | None,
    config_path: Path | None,
) -> None:
    """Copy SOURCE env's release pin to TARGET env as one Git commit, if SOURCE is Synced and Healthy.

    Gates, evaluated live: every cluster of the source env is reachable, has 0 drift against Git and is
    Healthy. A refused promotion lists every failing cluster with the reason.
    """
    config = FleetConfig.load(config_path)
    repository, branch, snapshot = open_for_writing(repo, base_branch)
    workspace = Workspace(snapshot, config, repository)
    promotion = run(gate_promotion(workspace, repository, source=source, target=target))
    for gate in promotion.gates:
        click.echo(f"gate {gate.cluster}: {'pass' if gate.passed else 'FAIL'} ({gate.reason})")
    refusal = promotion.refusal()
    if refusal and not force:
        raise PromotionRefused(refusal)
    if dry_run:
        results = run(plan_promotion(workspace, promotion))
        click.echo(f"\nplan for {target} with {promotion.pin.revision[:12]}:")
        click.echo(syncview.summary_table(results))
        text = syncview.details(results, show_diff=True)
        if text:
            click.echo("\n" + text)
        return
    pushed = commit_promotion(repository, promotion, branch=branch, message=message, force=force, new_branch=new_branch)
    where = f"{pushed.remote}/{pushed.branch}" if pushed.remote else pushed.branch
    click.echo(f"promoted {source} -> {target}: {promotion.pin.revision[:12]} in commit {pushed.sha[:12]} on {where}")


@click.command("history")
@click.argument("env")
@click.option("-o", "--output", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--repo", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True)
@click.option("--ref", default="HEAD", show_default=True)
def history_command(env: str, fmt: str, repo: Path, ref: str) -> None:
    """Promotions and rollbacks of ENV, newest first, read from Git history."""
    repository = Repository(repo)
    check_env(repository.snapshot(ref), env, "ENV")
    records = history(repository, env, ref=ref)
    if fmt == "json":
        click.echo(to_json({"env": env, "records": [r.to_dict() for r in records]}))
        return
    rows = []
    for r in records:
        gates = r.data.get("gates") or []
        passed = sum(1 for g in gates if g.get("passed"))
        verdict = (f"{passed}/{len(gates)}" if gates else "-") + (" forced" if r.data.get("forced") else "")
        revision = str(r.data.get("revision", ""))[:12]
        rows.append([r.when, r.data.get("kind"), r.data.get("from") or "-", revision, verdict, r.author, r.sha[:12]])
    headers = ["WHEN", "KIND", "FROM", "REVISION", "GATES", "AUTHOR", "COMMIT"]
    click.echo(table(headers, rows) if rows else f"no promotions of {env} yet")


@click.command()
@click.argument("env")
@click.option("--to", "to_rev", default=None, help="Restore ENV's pin as it was at this commit.")
@click.option("--branch", "new_branch", default=None, help="Push to this new branch (for a pull request).")
@click.option("--message", "-m", default="", help="Why: recorded in the commit.")
@_repo_options
def rollback(
    env: str,
    to_rev: str | None,
    new_branch: str | None,
    message: str,
    repo: Path,
    base_branch: str | None,
    config_path: Path | None,
) -> None:
    """Restore an earlier release pin of ENV as a new commit (never a force-push).

    Without --to: the pin ENV had before its last promotion or rollback.
    """
    repository, branch, snapshot = open_for_writing(repo, base_branch)
    check_env(snapshot, env, "ENV")
    restores, pin = pin_to_restore(repository, env, at=snapshot.revision, to_rev=to_rev)
    pushed = commit_rollback(
        repository, branch=branch, env=env, pin=pin, message=message, new_branch=new_branch, restores=restores
    )
    where = f"{pushed.remote}/{pushed.branch}" if pushed.remote else pushed.branch
    restored = f"the pin of {restores[:12]} ({pin.revision[:12]})"
    click.echo(f"rolled back {env} to {restored} in commit {pushed.sha[:12]} on {where}")
