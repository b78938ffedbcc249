"""Promotion across environments: release pins, gates, the promotion commit, history and rollback.

``overlays/<env>/release.yaml`` is the env's release pin: the revision of overlays/base it runs and the
values promoted into it (image tags, ...). A promotion copies the source env's pin to the target env as
one commit; a rollback is a new commit restoring an earlier pin. Both carry a machine-readable trailer, so
``fleet history`` is read from Git alone:

    promote dev -> staging: 1a2b3c4d5e6f

    Fleet-Promotion: {"kind": "promotion", "from": "dev", "to": "staging", ...}
"""

from __future__ import annotations

import calendar
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import git
import yaml

from fleet.errors import SourceError
from fleet.gitwrite import Pushed, author_of, publish, repo_lock
from fleet.releasepin import HEAD_REVISIONS, parse_pin, release_path
from fleet.report import ClusterReport
from fleet.source import Repository, Snapshot

TRAILER = "Fleet-Promotion: "


@dataclass(frozen=True)
class Pin:
    revision: str
    values: dict[str, Any]

    @classmethod
    def read(cls, snapshot: Snapshot, env: str) -> Pin:
        path = release_path(env)
        return cls.parse(snapshot.text(path) if snapshot.exists(path) else "", path)

    @classmethod
    def parse(cls, text: str | bytes, path: str) -> Pin:
        pin = parse_pin(text, path)
        return cls(pin.revision, pin.values)

    def resolved(self, repository: Repository, at: str) -> Pin:
        """The pin with a concrete commit: HEAD means the revision the env was rendered at."""
        revision = at if self.revision in HEAD_REVISIONS else repository.resolve(self.revision)
        return Pin(revision, self.values)

    def to_yaml(self, note: str) -> bytes:
        header = (
            "# The env's release pin: the revision of overlays/base it runs and the values promoted into it.\n"
            f"# Written by `fleet {note}`; edit by promotion or rollback, so that history stays readable.\n"
        )
        body = yaml.safe_dump({"revision": self.revision, "values": self.values}, sort_keys=True)
        return (header + body).encode()


@dataclass(frozen=True)
class GateResult:
    cluster: str
    passed: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"cluster": self.cluster, "passed": self.passed, "reason": self.reason}


def _age(stamp: str | None, now: float) -> float | None:
    if not stamp:
        return None
    try:
        return now - calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        return None


def evaluate_gates(
    reports: Sequence[ClusterReport], *, min_soak_seconds: float = 0.0, now: float | None = None
) -> list[GateResult]:
    """Every cluster of the source env Synced (0 drift), Healthy and reachable; with a minimum soak time,
    also unchanged for that long (since fleet last changed anything in it)."""
    now = time.time() if now is None else now
    results = []
    for report in reports:
        age = _age(report.last_sync, now)
        if min_soak_seconds and not report.error and not report.drift and (age is None or age < min_soak_seconds):
            soaked = "never synced" if age is None else f"changed {age:.0f}s ago"
            results.append(GateResult(report.name, False, f"soaking: {soaked}, needs {min_soak_seconds:.0f}s"))
            continue
        if report.error:
            reason = f"unreachable: {report.error}" if report.error_since else report.error
            results.append(GateResult(report.name, False, reason))
        elif report.drift:
            first = report.drift[0]
            more = f" and {len(report.drift) - 1} more" if len(report.drift) > 1 else ""
            results.append(
                GateResult(report.name, False, f"{len(report.drift)} drifted: {first.type} {first.key}{more}")
            )
        elif report.health.code.label != "Healthy":
            what = f"{report.health_object}: " if report.health_object else ""
            results.append(GateResult(report.name, False, f"{report.health.code.label}: {what}{report.health.message}"))
        else:
            results.append(GateResult(report.name, True, "Synced and Healthy"))
    return results


@dataclass(frozen=True)
class Record:
    """One promotion or rollback, as read back from Git."""

    sha: str
    when: str
    author: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"commit": self.sha, "when": self.when, "author": self.author, **self.data}


def trailer(message: str) -> dict[str, Any] | None:
    for line in message.splitlines():
        if line.startswith(TRAILER):
            try:
                data = json.loads(line[len(TRAILER) :])
            except ValueError:
                return None
            return data if isinstance(data, dict) else None
    return None


def history(repository: Repository, env: str, *, ref: str = "HEAD", limit: int = 50) -> list[Record]:
    records = []
    try:
        commits = list(repository.repo.iter_commits(ref, paths=release_path(env), max_count=limit * 4))
    except git.GitCommandError as exc:
        raise SourceError(f"cannot read history of {release_path(env)}: {exc}") from None
    for commit in commits:
        data = trailer(str(commit.message))
        if data is None or data.get("to") != env:
            continue
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(commit.committed_date))
        records.append(Record(str(commit.hexsha), when, f"{commit.author.name} <{commit.author.email}>", data))
        if len(records) >= limit:
            break
    return records


def rollback_record(env: str, pin: Pin, message: str, **extra: Any) -> dict[str, Any]:
    """The trailer data of a rollback commit (by a person, or automatic by the hub)."""
    return {
        "kind": "rollback",
        "from": None,
        "to": env,
        "revision": pin.revision,
        "values": pin.values,
        "message": message,
        **extra,
    }


def promotion_message(data: dict[str, Any]) -> str:
    kind = data["kind"]
    if kind == "promotion":
        head = f"promote {data['from']} -> {data['to']}: {data['revision'][:12]}"
    else:
        head = f"rollback {data['to']} to {data['revision'][:12]}"
    if data.get("forced"):
        head += " (forced past failing gates)"
    lines = [head, ""]
    if data.get("message"):
        lines += [data["message"], ""]
    for gate in data.get("gates", []):
        lines.append(f"gate {gate['cluster']}: {'pass' if gate['passed'] else 'FAIL'} ({gate['reason']})")
    lines += ["", TRAILER + json.dumps(data, sort_keys=True, separators=(",", ":"))]
    return "\n".join(lines)


def write_pin(
    repository: Repository,
    *,
    branch: str,
    env: str,
    pin_for: Any,
    data_for: Any,
    new_branch: str | None = None,
) -> Pushed:
    """Publish a commit that sets ``env``'s pin to ``pin_for(head_snapshot)``; serialised per repository."""

    def build(head: str) -> tuple[str, bytes, str]:
        snapshot = repository.snapshot(head)
        pin: Pin = pin_for(snapshot)
        data = {**data_for(pin), "author": author_of(repository.repo)}
        return release_path(env), pin.to_yaml(data["kind"]), promotion_message(data)

    with repository.lock, repo_lock(repository.repo, "promotion"):
        return publish(repository.repo, branch, build, new_branch=new_branch)
