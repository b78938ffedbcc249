"""Promotion and rollback, as the CLI and the hub run them: gates evaluated live on the source env, the
pin committed to the target env, a plan of what the target's clusters would get, history read from Git.

A promotion copies the source env's release pin to the target env as one commit; a rollback is a new
commit restoring an earlier pin (by a person, or by the hub when a wave halts). Both carry a
machine-readable trailer (``fleet.model.promotion``), so ``fleet history`` is read from Git alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fleet.engine.sync import SyncOptions
from fleet.errors import FleetError, UsageError
from fleet.model.changeset import ChangeSet
from fleet.model.cluster import Selection
from fleet.model.promotion import GateResult, Pin, Record, evaluate_gates, promotion_message, rollback_record, trailer
from fleet.model.report import ClusterReport
from fleet.model.vocabulary import release_path
from fleet.render.engine import envs_of
from fleet.repo.envsettings import env_settings
from fleet.repo.gitwrite import Pushed, publish_file
from fleet.repo.source import Repository, Snapshot
from fleet.workflows.status import fleet_report
from fleet.workflows.syncing import sync_fleet
from fleet.workflows.workspace import Workspace


class PromotionRefused(FleetError):
    pass


def read_pin(snapshot: Snapshot, env: str) -> Pin:
    path = release_path(env)
    return Pin.parse(snapshot.text(path) if snapshot.exists(path) else "", path)


def check_env(snapshot: Snapshot, env: str, what: str) -> None:
    envs = envs_of(snapshot)
    if env not in envs:
        raise UsageError(f"{what}: unknown env {env!r}; envs: {', '.join(envs) or 'none'}")


def open_for_writing(repo: Path, base_branch: str | None) -> tuple[Repository, str, Snapshot]:
    """The repository, the branch commits go to (the current one by default) and the fleet at its newest
    commit (fetched from the remote when there is one)."""
    repository = Repository(repo)
    if base_branch is None:
        base_branch = repository.current_branch()
        if base_branch is None:
            raise UsageError("HEAD is detached: name the branch to commit to with --base")
    try:
        head = repository.fetched(base_branch)
    except FleetError as exc:
        raise UsageError(str(exc)) from None
    return repository, base_branch, repository.snapshot(head)


def commit_pin(
    repository: Repository, *, branch: str, env: str, pin: Pin, data: dict[str, Any], new_branch: str | None = None
) -> Pushed:
    """Commit ``pin`` as ``env``'s release pin, with ``data`` as the commit's trailer. The pin is fixed when
    this is called: a retry on a moved remote changes only the parent commit."""

    def build(author: str) -> tuple[bytes, str]:
        record = {**data, "author": author}
        return pin.to_yaml(record["kind"]), promotion_message(record)

    return publish_file(repository, branch=branch, path=release_path(env), build=build, new_branch=new_branch)


# ---- promotion ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Promotion:
    source: str
    target: str
    pin: Pin  # the source env's pin, its revision resolved to a commit
    gates: tuple[GateResult, ...]

    @property
    def failing(self) -> list[GateResult]:
        return [g for g in self.gates if not g.passed]

    def refusal(self) -> str | None:
        if not self.failing:
            return None
        reasons = "; ".join(f"{g.cluster}: {g.reason}" for g in self.failing)
        return f"promotion {self.source} -> {self.target} refused: {reasons}"


async def gate_promotion(workspace: Workspace, repository: Repository, *, source: str, target: str) -> Promotion:
    """Read the source env's pin and evaluate the gates on its clusters, live."""
    if source == target:
        raise UsageError("--from and --to name the same env: nothing to promote")
    check_env(workspace.snapshot, source, "--from")
    check_env(workspace.snapshot, target, "--to")
    clusters = workspace.select(Selection(envs=(source,)))
    rendered = await asyncio.to_thread(workspace.render_all, clusters)
    report = await fleet_report(rendered, workspace.config, inventory_name=workspace.config.inventory)
    return promotion_from_reports(workspace, repository, report.clusters, source=source, target=target)


def promotion_from_reports(
    workspace: Workspace, repository: Repository, reports: Sequence[ClusterReport], *, source: str, target: str
) -> Promotion:
    """A promotion gated on reports the caller already holds (the hub's, kept live by its watches)."""
    if source == target:
        raise UsageError("the source and the target are the same env: nothing to promote")
    snapshot = workspace.snapshot
    check_env(snapshot, source, "from")
    check_env(snapshot, target, "env")
    pin = read_pin(snapshot, source).resolved(repository.resolve, snapshot.revision)
    chosen = [r for r in reports if r.env == source]
    soak = env_settings(snapshot, source).min_soak_seconds
    return Promotion(source, target, pin, tuple(evaluate_gates(chosen, min_soak_seconds=soak)))


async def plan_promotion(workspace: Workspace, promotion: Promotion) -> list[ChangeSet]:
    """What the target env's clusters would get with the promoted pin (server-side dry runs)."""
    snapshot = workspace.snapshot
    files = {**snapshot.files, release_path(promotion.target): promotion.pin.to_yaml("promote")}
    planned = Workspace(Snapshot(snapshot.revision, files, snapshot.root), workspace.config, workspace.repository)
    clusters = planned.select(Selection(envs=(promotion.target,)))
    rendered = await asyncio.to_thread(planned.render_all, clusters)
    options = SyncOptions(dry_run=True, inventory=workspace.config.inventory)
    return await sync_fleet(rendered, workspace.config, options)


def commit_promotion(
    repository: Repository,
    promotion: Promotion,
    *,
    branch: str,
    message: str = "",
    force: bool = False,
    new_branch: str | None = None,
) -> Pushed:
    """The promotion commit; refused while a gate fails unless ``force`` (which the commit records)."""
    refusal = promotion.refusal()
    if refusal and not force:
        raise PromotionRefused(refusal)
    data = {
        "kind": "promotion",
        "from": promotion.source,
        "to": promotion.target,
        "revision": promotion.pin.revision,
        "values": promotion.pin.values,
        "gates": [g.to_dict() for g in promotion.gates],
        "forced": bool(refusal),
        "message": message,
    }
    return commit_pin(
        repository, branch=branch, env=promotion.target, pin=promotion.pin, data=data, new_branch=new_branch
    )


# ---- rollback and history -----------------------------------------------------------------------------


def history(repository: Repository, env: str, *, ref: str = "HEAD", limit: int = 50) -> list[Record]:
    """Promotions and rollbacks of ``env``, newest first."""
    records = []
    for commit in repository.history(release_path(env), ref=ref, max_count=limit * 4):
        data = trailer(commit.message)
        if data is None or data.get("to") != env:
            continue
        when = Record.stamp(commit.committed_at)
        records.append(Record(commit.sha, when, commit.author, data, commit.parent))
        if len(records) >= limit:
            break
    return records


def pin_to_restore(repository: Repository, env: str, *, at: str, to_rev: str | None) -> tuple[str, Pin]:
    """The revision whose pin a rollback restores, and that pin. Without ``to_rev``: the pin ``env`` had
    before its last promotion or rollback."""
    if to_rev is None:
        records = history(repository, env, ref=at)
        if not records:
            raise UsageError(f"{env} has no promotion to roll back; name a commit with --to")
        if records[0].parent is None:
            raise UsageError(f"the last promotion of {env} is the first commit: nothing before it")
        to_rev = records[0].parent
    earlier = repository.snapshot(to_rev)
    return earlier.revision, read_pin(earlier, env).resolved(repository.resolve, earlier.revision)


def commit_rollback(
    repository: Repository,
    *,
    branch: str,
    env: str,
    pin: Pin,
    message: str,
    new_branch: str | None = None,
    **extra: Any,
) -> Pushed:
    """A commit that restores ``pin`` as ``env``'s release pin (never a force-push)."""
    data = rollback_record(env, pin, message, **extra)
    return commit_pin(repository, branch=branch, env=env, pin=pin, data=data, new_branch=new_branch)
