"""How sync and plan results read: the summary table, the per-object lines, and markdown for a pull
request comment."""

from __future__ import annotations

import json
from collections.abc import Sequence

from fleet.model.changeset import Action, ChangeSet
from fleet.output import table

CREATED_LISTED = 5  # more created objects than this are summarised in one line (plan lists them all)
HELD_LISTED = 3  # objects a prune left in place, named in the cluster's one line
PRUNE_HELD = ("prune refused", "prune postponed", "not desired any more; prune disabled")
SHOWN = (Action.CREATED, Action.CONFIGURED, Action.DELETED, Action.SKIPPED, Action.FAILED)
HEADERS = ["CLUSTER", "ENV", "REVISION", "CREATED", "CONFIGURED", "UNCHANGED", "DELETED", "FAILED", "HEALTH", "TIME"]


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
    return table(HEADERS, rows)


def details(results: Sequence[ChangeSet], *, show_diff: bool) -> str:
    lines = []
    for cs in results:
        if cs.error:
            lines.append(f"{cs.cluster}: error: {cs.error}")
            continue
        created = [c for c in cs.changes if c.action is Action.CREATED and not c.message]
        # Objects a prune left in place: one line for the cluster, not one per object.
        held = [c for c in cs.changes if c.action is Action.SKIPPED and cs.pending and c.message.startswith(PRUNE_HELD)]
        if held:
            names = ", ".join(str(c.key) for c in held[:HELD_LISTED])
            more = f" and {len(held) - HELD_LISTED} more" if len(held) > HELD_LISTED else ""
            lines.append(f"{cs.cluster}: does not match Git: {cs.pending}: {names}{more}")
        if len(created) > CREATED_LISTED and not show_diff:
            kinds = sorted({c.key.kind for c in created})
            lines.append(f"{cs.cluster}: created {len(created)} objects ({', '.join(kinds)})")
        for change in cs.changes:
            if change.action not in SHOWN or (change in created and len(created) > CREATED_LISTED and not show_diff):
                continue
            if change in held:
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


def markdown(results: Sequence[ChangeSet]) -> str:
    """A pull-request comment: one section per cluster with changes, field diffs in a table."""
    lines = ["### fleet plan", ""]
    changed = [cs for cs in results if cs.error or any(c.action in SHOWN for c in cs.changes)]
    quiet = [cs.cluster for cs in results if cs not in changed]
    lines.append("| cluster | env | create | update | delete | failed |")
    lines.append("|---|---|---|---|---|---|")
    for cs in results:
        n = cs.counts
        row = [cs.cluster, cs.env, n[Action.CREATED], n[Action.CONFIGURED], n[Action.DELETED], n[Action.FAILED]]
        lines.append("| " + " | ".join(str(c) for c in row) + " |")
    for cs in changed:
        lines += ["", f"#### {cs.cluster} ({cs.env})", ""]
        if cs.error:
            lines.append(f"**error**: {_md(cs.error)}")
            continue
        for change in cs.changes:
            if change.action not in SHOWN:
                continue
            note = f" — {_md(change.message)}" if change.message else ""
            lines.append(f"- **{change.action.value}** `{change.key}`{note}")
            for diff in change.diff:
                lines.append(f"  - `{diff.path}`: `{_value(diff.live)}` → `{_value(diff.desired)}`")
    if quiet:
        lines += ["", f"No changes on: {', '.join(quiet)}."]
    return "\n".join(lines)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
