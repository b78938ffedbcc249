"""Promotion across environments as data: release pins, gates, and the records promotion and rollback
commits carry (the workflows that write them are ``fleet.workflows.promotion``).

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from fleet.model.releasepin import parse_pin
from fleet.model.report import ClusterReport
from fleet.model.vocabulary import HEAD_REVISIONS

TRAILER = "Fleet-Promotion: "


@dataclass(frozen=True)
class Pin:
    revision: str
    values: dict[str, Any]

    @classmethod
    def parse(cls, text: str | bytes, path: str) -> Pin:
        pin = parse_pin(text, path)
        return cls(pin.revision, pin.values)

    def resolved(self, resolve: Callable[[str], str], at: str) -> Pin:
        """The pin with a concrete commit: HEAD means the revision ``at`` (what the env was rendered at);
        anything else goes through ``resolve`` (a tag or short sha -> full sha)."""
        revision = at if self.revision in HEAD_REVISIONS else resolve(self.revision)
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
    parent: str | None = None  # the commit before it: what a rollback of this record restores

    @staticmethod
    def stamp(epoch: float) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))

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
