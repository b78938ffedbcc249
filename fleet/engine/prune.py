"""Prune: delete what left Git, from the inventory difference (never by scanning labels), in reverse apply
order, within a safety limit, and only objects still labelled as fleet's for this cluster."""

from __future__ import annotations

from collections.abc import Mapping
from itertools import groupby
from typing import Any, Protocol

from fleet.concurrency import run_all
from fleet.engine.deleting import Deletion
from fleet.engine.manager import ResourceManager
from fleet.kube.api import ApiError
from fleet.kube.discovery import UnknownKind
from fleet.model.changeset import Action, ObjectChange
from fleet.model.inventory import Entry, Inventory
from fleet.model.objects import ObjectKey
from fleet.model.ordering import kind_rank
from fleet.model.vocabulary import is_managed_by_fleet


class PruneOptions(Protocol):
    """What of ``SyncOptions`` prune reads."""

    @property
    def dry_run(self) -> bool: ...
    @property
    def prune(self) -> bool: ...
    @property
    def max_prune_ratio(self) -> float: ...
    @property
    def force_prune(self) -> bool: ...


def prune_order(entry: Entry) -> tuple[int, int]:
    """Reverse apply order (custom resources before their CRDs), namespaces last of all."""
    return (1 if entry.key.group_kind == ("", "Namespace") else 0, -kind_rank(entry.key))


def prune_refusal(*, stale: int, managed: int, desired: int, max_ratio: float) -> str | None:
    """Why pruning ``stale`` of the ``managed`` objects is refused, or None. A commit that empties a
    cluster, or removes more than ``max_ratio`` of what fleet manages there (a single object always may
    go), is more likely a mistake (a wrong path, a template that renders nothing) than an intent."""
    if stale and (desired == 0 or (stale > 1 and stale > max_ratio * managed)):
        return (
            f"prune refused: it would delete {stale} of {managed} objects fleet manages here "
            f"(limit {max_ratio:.0%}); check the commit, or rerun with --force-prune"
        )
    return None


def left_in_place(entries: list[Entry], why: str) -> str:
    return f"{len(entries)} object{'s' if len(entries) != 1 else ''} no longer in Git left in place ({why})"


class Pruner:
    def __init__(
        self, manager: ResourceManager, desired: Mapping[ObjectKey, dict[str, Any]], options: PruneOptions
    ) -> None:
        self.manager = manager
        self.desired = desired
        self.options = options
        self.pending: str | None = None  # why objects that left Git are still in the cluster

    async def prune(self, old: Inventory, *, skip_reason: str | None) -> tuple[list[ObjectChange], list[Entry]]:
        """Delete old - desired. Returns the changes and the entries that must stay in the inventory."""
        stale = sorted((e for k, e in old.entries.items() if k not in self.desired), key=prune_order)
        if not stale:
            return [], []
        prunable = [e for e in stale if not e.adopted]
        if not self.options.prune:
            message = "not desired any more; prune disabled"
            why = "prune disabled: sync with --prune to delete them"
            self.pending = left_in_place(prunable, why) if prunable else None
            return [ObjectChange(e.key, Action.SKIPPED, message) for e in stale], stale
        if skip_reason:
            why = f"prune postponed: {skip_reason}; sync again"
            self.pending = left_in_place(prunable, why) if prunable else None
            return [ObjectChange(e.key, Action.SKIPPED, f"prune postponed: {skip_reason}") for e in stale], stale
        refusal = prune_refusal(
            stale=len(stale),
            managed=len(old.entries),
            desired=len(self.desired),
            max_ratio=self.options.max_prune_ratio,
        )
        if refusal and not self.options.force_prune:
            self.pending = refusal
            return [ObjectChange(e.key, Action.SKIPPED, refusal) for e in stale], stale
        changes: list[ObjectChange] = []
        kept: list[Entry] = []
        for _, group in groupby(stale, key=prune_order):
            entries = list(group)
            for entry, change in zip(entries, await run_all(self._delete(e) for e in entries), strict=True):
                changes.append(change)
                if change.action is Action.FAILED:
                    kept.append(entry)
        return changes, kept

    async def _delete(self, entry: Entry) -> ObjectChange:
        key = entry.key
        if entry.adopted:
            return ObjectChange(key, Action.SKIPPED, "not desired any more; left in place (fleet adopted it)")
        try:
            path = await self.manager.path_of(entry.api_version, key)
        except UnknownKind:
            return ObjectChange(key, Action.DELETED, "already gone (its API no longer exists)")
        live = await self.manager.get(path)
        if live is None:
            return ObjectChange(key, Action.DELETED, "already gone")
        if not is_managed_by_fleet(live, self.manager.cluster):
            return ObjectChange(key, Action.SKIPPED, "no longer labelled as fleet's on this cluster; left in place")
        if self.options.dry_run:
            return ObjectChange(key, Action.DELETED, "would be deleted")
        try:
            outcome = await self.manager.delete(path, live)
        except ApiError as exc:
            return ObjectChange(key, Action.FAILED, f"delete failed: {exc}")
        if outcome is Deletion.GONE:
            return ObjectChange(key, Action.DELETED, "already gone")
        if outcome is Deletion.RECREATED:
            return ObjectChange(key, Action.SKIPPED, "recreated since it was read; left in place")
        return ObjectChange(key, Action.DELETED)
