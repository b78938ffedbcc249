"""How the fleet report and drift reports read for people."""

from __future__ import annotations

import difflib
from typing import Any

from fleet.manifest import dump_yaml
from fleet.model.cluster import env_order
from fleet.model.drift import DriftItem
from fleet.model.report import ClusterReport, FleetReport
from fleet.output import table


def _short(revision: str | None) -> str:
    if not revision:
        return "-"
    return revision[:12] if len(revision) == 40 else revision


def status_table(report: FleetReport, *, wide: bool = False) -> str:
    blocks = []
    for env in sorted({c.env for c in report.clusters}, key=env_order):
        rows: list[list[Any]] = []
        for c in (c for c in report.clusters if c.env == env):
            row: list[Any] = [c.name, str(c.sync), c.health.code.label, len(c.drift), _short(c.revision)]
            row.append(_short(c.applied_revision) if c.applied_revision else "-")
            row.append(c.last_sync or "-")
            if wide:
                row += [",".join(f"{k}={v}" for k, v in sorted(c.labels.items())), c.health.message or "-"]
            rows.append(row)
        headers = ["CLUSTER", "SYNC", "HEALTH", "DRIFT", "REVISION", "APPLIED", "LAST SYNC"]
        if wide:
            headers += ["LABELS", "MESSAGE"]
        blocks.append(f"ENV {env}\n" + _indent(table(headers, rows)))
    summary = report.summary()
    lines = ["\n\n".join(blocks), "", f"{summary['ok']}/{summary['clusters']} clusters Synced and Healthy"]
    lines += [f"  {c.name}: {c.why()}" for c in report.clusters if c.why()]
    return "\n".join(lines)


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def drift_text(report: ClusterReport) -> str:
    if report.error:
        return f"{report.name}: {report.error}"
    if not report.drift:
        return f"{report.name}: no drift ({len(report.drift)} items); {report.health.code.label}"
    parts = [f"{report.name}: {len(report.drift)} drifted objects"]
    for item in report.drift:
        parts.append(_item_text(item))
    return "\n\n".join(parts)


def _item_text(item: DriftItem) -> str:
    head = f"{item.type} {item.key}" + (f": {item.message}" if item.message else "")
    lines = [head]
    for f in item.fields:
        who = f" (by {f.manager}" + (f" at {f.time})" if f.time else ")") if f.manager else ""
        lines.append(f"  {f.path}: desired {_fmt(f.desired)}, live {_fmt(f.live)}{who}")
    if item.desired is not None and item.live is not None:
        desired = dump_yaml([item.desired]).splitlines(keepends=True)
        live = dump_yaml([item.live]).splitlines(keepends=True)
        diff = difflib.unified_diff(desired, live, fromfile=f"git/{item.key}", tofile=f"live/{item.key}", n=2)
        lines.append("".join(diff).rstrip())
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if value is None:
        return "(absent)"
    return repr(value)
