"""`fleet promote`, `fleet history`, `fleet rollback`: moving releases between envs as Git commits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from fleet.apply import SyncOptions
from fleet.cli import run, syncview
from fleet.config import FleetConfig
from fleet.envsettings import env_settings
from fleet.errors import FleetError, UsageError
from fleet.gitwrite import Pushed
from fleet.output import table, to_json
from fleet.promote import Pin, evaluate_gates, history, rollback_record, write_pin
from fleet.registry import Selection
from fleet.releasepin import release_path
from fleet.render.engine import envs_of
from fleet.source import Repository, Snapshot
from fleet.status import fleet_report
from fleet.sync import sync_fleet
from fleet.workspace import Workspace


class PromotionRefused(FleetError):
    pass


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


def _open(repo: Path, base_branch: str | None) -> tuple[Repository, str, Snapshot]:
    repository = Repository(repo)
    if base_branch is None:
        if repository.repo.head.is_detached:
            raise UsageError("HEAD is detached: name the branch to commit to with --base")
        base_branch = repository.repo.active_branch.name
    remote = next((r.name for r in repository.repo.remotes), None)
    if remote:
        try:
            repository.repo.git.fetch(remote, base_branch)
            head = f"{remote}/{base_branch}"
        except Exception:
            raise UsageError(f"cannot fetch {base_branch} from {remote}") from None
    else:
        head = base_branch
    return repository, base_branch, repository.snapshot(head)


def _write(
    repository: Repository, branch: str, env: str, pin: Pin, data: dict[str, Any], new_branch: str | None
) -> Pushed:
    # The pin is fixed when the gates pass: a retry on a moved remote changes only the parent commit.
    return write_pin(
        repository, branch=branch, env=env, pin_for=lambda _head: pin, data_for=lambda _p: data, new_branch=new_branch
    )


def _check_env(snapshot: Snapshot, env: str, flag: str) -> None:
    envs = envs_of(snapshot)
    if env not in envs:
        raise UsageError(f"{flag}: unknown env {env!r}; envs: {', '.join(envs) or 'none'}")


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
    if source == target:
        raise UsageError("--from and --to name the same env: nothing to promote")
    config = FleetConfig.load(config_path)
    repository, branch, snapshot = _open(repo, base_branch)
    _check_env(snapshot, source, "--from")
    _check_env(snapshot, target, "--to")
    pin = Pin.read(snapshot, source).resolved(repository, snapshot.revision)
    workspace = Workspace(snapshot, config, repository)
    source_clusters = workspace.select(Selection(envs=(source,)))
    rendered = workspace.render_all(source_clusters)
    report = run(fleet_report(rendered, config, inventory_name=config.inventory))
    soak = env_settings(snapshot, source).min_soak_seconds
    gates = evaluate_gates(report.clusters, min_soak_seconds=soak)
    for gate in gates:
        click.echo(f"gate {gate.cluster}: {'pass' if gate.passed else 'FAIL'} ({gate.reason})")
    failing = [g for g in gates if not g.passed]
    if failing and not force:
        reasons = "; ".join(f"{g.cluster}: {g.reason}" for g in failing)
        raise PromotionRefused(f"promotion {source} -> {target} refused: {reasons}")
    if dry_run:
        _plan_target(workspace, snapshot, target, pin, config)
        return
    data = {
        "kind": "promotion",
        "from": source,
        "to": target,
        "revision": pin.revision,
        "values": pin.values,
        "gates": [g.to_dict() for g in gates],
        "forced": bool(failing),
        "message": message,
    }
    pushed = write_pin(
        repository,
        branch=branch,
        env=target,
        pin_for=lambda _head: pin,
        data_for=lambda _p: data,
        new_branch=new_branch,
    )
    where = f"{pushed.remote}/{pushed.branch}" if pushed.remote else pushed.branch
    click.echo(f"promoted {source} -> {target}: {pin.revision[:12]} in commit {pushed.sha[:12]} on {where}")


def _plan_target(workspace: Workspace, snapshot: Snapshot, target: str, pin: Pin, config: FleetConfig) -> None:
    files = dict(snapshot.files)
    files[release_path(target)] = pin.to_yaml("promote")
    planned = Workspace(Snapshot(snapshot.revision, files, snapshot.root), config, workspace.repository)
    clusters = planned.select(Selection(envs=(target,)))
    rendered = planned.render_all(clusters)
    options = SyncOptions(dry_run=True, inventory=config.inventory)
    results = run(sync_fleet(rendered, config, options))
    click.echo(f"\nplan for {target} with {pin.revision[:12]}:")
    click.echo(syncview.summary_table(results))
    text = syncview.details(results, show_diff=True)
    if text:
        click.echo("\n" + text)


@click.command("history")
@click.argument("env")
@click.option("-o", "--output", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--repo", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True)
@click.option("--ref", default="HEAD", show_default=True)
def history_command(env: str, fmt: str, repo: Path, ref: str) -> None:
    """Promotions and rollbacks of ENV, newest first, read from Git history."""
    repository = Repository(repo)
    _check_env(repository.snapshot(ref), env, "ENV")
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
    repository, branch, snapshot = _open(repo, base_branch)
    _check_env(snapshot, env, "ENV")
    if to_rev is None:
        records = history(repository, env, ref=snapshot.revision)
        if not records:
            raise UsageError(f"{env} has no promotion to roll back; name a commit with --to")
        last = repository.repo.commit(records[0].sha)
        if not last.parents:
            raise UsageError(f"the last promotion of {env} is the first commit: nothing before it")
        to_rev = str(last.parents[0].hexsha)
    earlier = repository.snapshot(to_rev)
    pin = Pin.read(earlier, env).resolved(repository, earlier.revision)
    data = rollback_record(env, pin, message, restores=earlier.revision)
    pushed = _write(repository, branch, env, pin, data, new_branch)
    where = f"{pushed.remote}/{pushed.branch}" if pushed.remote else pushed.branch
    restored = f"the pin of {earlier.revision[:12]} ({pin.revision[:12]})"
    click.echo(f"rolled back {env} to {restored} in commit {pushed.sha[:12]} on {where}")
