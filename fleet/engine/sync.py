"""One cluster's sync: ordered server-side apply of the desired objects, inventory-based prune, health.

Crash safety comes from the order of inventory writes. Before anything is applied, the inventory grows to
old + desired, so that every object this sync may create is recorded; prune then deletes old - desired;
only after the prune succeeded does the inventory shrink to the desired set. A sync killed at any point
leaves an inventory that covers everything fleet created, and the next sync finishes the job: no orphans,
and no second delete of an object already gone.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from fleet.concurrency import run_all
from fleet.engine import inventory as store
from fleet.engine.manager import ResourceManager
from fleet.engine.prune import Pruner
from fleet.errors import ClusterError, LeaseLost, PermanentClusterError
from fleet.kube.api import ApiError
from fleet.kube.discovery import UnknownKind
from fleet.model.changeset import Action, ChangeSet, ObjectChange
from fleet.model.compare import differs, field_diffs, normalise, provably_unchanged
from fleet.model.health import Code, Health, assess, worst
from fleet.model.inventory import Entry, Inventory, InventoryError
from fleet.model.masking import mask_diffs
from fleet.model.objects import ObjectKey
from fleet.model.ordering import apply_order
from fleet.model.rendered import RenderedCluster
from fleet.model.served import CRD, crd_kinds, describe
from fleet.model.vocabulary import INVENTORY_NAME, is_managed_by_fleet


@dataclass(frozen=True)
class SyncOptions:
    dry_run: bool = False
    prune: bool = True
    max_prune_ratio: float = 0.5  # refuse to prune more than this share of the inventory in one sync
    force_prune: bool = False
    wait: bool = False  # wait for every object to be Healthy
    wait_timeout: float = 180.0
    crd_timeout: float = 60.0
    force_conflicts: bool = False  # take over fields another field manager owns
    inventory: str = INVENTORY_NAME  # the ConfigMap in fleet-system that records what this fleet applied


@dataclass
class _Applied:
    change: ObjectChange
    live: dict[str, Any] | None


class ClusterSync:
    def __init__(self, manager: ResourceManager, rendered: RenderedCluster, options: SyncOptions) -> None:
        self.manager = manager
        self.rendered = rendered
        self.options = options
        self.cluster = rendered.cluster.name
        self.desired = dict(rendered.objects)
        self.crd_kinds = crd_kinds(self.desired)
        self.desired_namespaces = {k.name for k in self.desired if k.group_kind == ("", "Namespace")}
        self.pending: str | None = None  # why the cluster will not match Git after this sync

    async def run(self) -> ChangeSet:
        api = self.manager.api
        started_at, started = time.time(), time.monotonic()
        writes_before, requests_before = api.writes, api.requests
        try:
            changes = await self._sync()
            error = None
        except LeaseLost:
            raise  # not this process's cluster any more: there is nothing to report on it
        except ClusterError as exc:
            changes, error = [], exc.detail
        except InventoryError as exc:
            changes, error = [], str(exc)
        except ApiError as exc:  # a request that is not about one object (inventory, discovery)
            changes, error = [], str(exc)
        health = worst(c.health for c in changes if c.health is not None)
        if error:
            health = Health(Code.UNKNOWN, error)
        return ChangeSet(
            cluster=self.cluster,
            env=self.rendered.cluster.env,
            revision=self.rendered.revision,
            dry_run=self.options.dry_run,
            changes=tuple(changes),
            error=error,
            pending=None if error else self.pending,
            started_at=started_at,
            duration=time.monotonic() - started,
            writes=api.writes - writes_before,
            requests=api.requests - requests_before,
            health=health,
        )

    # ---- the steps ----------------------------------------------------------------------------------

    async def _sync(self) -> list[ObjectChange]:
        # The inventory (and the namespaces, when Git has some) are read while discovery runs: a sync's
        # first requests are round trips in a row.
        reading = asyncio.ensure_future(store.read(self.manager, self.options.inventory))
        listing = asyncio.ensure_future(self.manager.namespaces()) if self.desired_namespaces else None
        started = [t for t in (reading, listing) if t is not None]
        try:
            await self._refuse_unserved()
            old = await reading
            namespaces = await listing if listing is not None else None
        except BaseException:
            for task in started:
                task.cancel()
            await asyncio.gather(*started, return_exceptions=True)  # their errors retrieved, not logged
            raise
        live = await self.manager.fetch_live(self.desired, namespaces)
        entries = [
            Entry(key, obj["apiVersion"], self.rendered.digest(key), self._adopted(key, live.get(key), old))
            for key, obj in self.desired.items()
        ]
        grown = old.union(entries)
        if not self.options.dry_run and not grown.same_as(old):
            # Before anything is applied: whatever this sync creates is in the inventory even if the
            # process dies halfway, so a later sync can prune it.
            await store.write(self.manager, grown, self.options.inventory)
        applied = await self._apply_all(live, old)
        apply_failed = any(a.change.action is Action.FAILED for a in applied)
        pruner = Pruner(self.manager, self.desired, self.options)
        prune_from = grown if not self.options.dry_run else old
        prune_changes, kept = await pruner.prune(prune_from, skip_reason="apply failed" if apply_failed else None)
        self.pending = pruner.pending
        if self.options.wait and not self.options.dry_run:
            await self._wait_healthy(applied)
        changes = [a.change for a in applied] + prune_changes
        if not self.options.dry_run:
            failed = apply_failed or any(c.action is Action.FAILED for c in prune_changes)
            final = Inventory({e.key: grown.entries[e.key] for e in entries}, old.revision, old.release)
            final = final.union(kept)
            if not failed and self.pending is None:
                # Only a cluster that now matches Git records the revision as applied.
                final = final.with_revision(self.rendered.revision, self.rendered.release)
            if not final.same_as(grown):
                await store.write(self.manager, final, self.options.inventory)
        return changes

    async def _refuse_unserved(self) -> None:
        """A cluster that does not serve an API version Git uses (a fleet mid-upgrade: one cluster a minor
        behind, an API removed in a newer minor) gets nothing of this sync: applying the rest would leave it
        half on the new revision. Kinds a CRD of this same sync defines are served once it is established."""
        unserved = await self.manager.unserved(self.desired)
        if unserved:
            detail = describe(unserved, self.cluster, await self.manager.server_version())
            raise PermanentClusterError(self.cluster, f"not applied, nothing changed here: {detail}")

    def _adopted(self, key: ObjectKey, live: dict[str, Any] | None, old: Inventory) -> bool:
        """Existed before fleet applied it, and fleet never recorded it: prune will leave it in place."""
        return live is not None and key not in old.entries and not is_managed_by_fleet(live, self.cluster)

    async def _apply_all(self, live: dict[ObjectKey, dict[str, Any] | None], old: Inventory) -> list[_Applied]:
        results: list[_Applied] = []
        phases = groupby(self.desired.items(), key=lambda kv: apply_order(kv[0], kv[1])[:2])
        for _, group in phases:
            items = list(group)
            phase_results = await run_all(self._apply_one(key, obj, live, old) for key, obj in items)
            results += phase_results
            if not self.options.dry_run:
                await self._wait_for_crds(phase_results)
        return results

    async def _apply_one(
        self,
        key: ObjectKey,
        obj: dict[str, Any],
        prefetched: dict[ObjectKey, dict[str, Any] | None],
        old: Inventory,
    ) -> _Applied:
        def result(action: Action, message: str = "", live: Any = None, **kw: Any) -> _Applied:
            health = assess(live) if live is not None else None
            return _Applied(ObjectChange(key, action, message, health=health, **kw), live)

        dry_run, force = self.options.dry_run, self.options.force_conflicts
        try:
            path = await self.manager.path_of(obj["apiVersion"], key)
        except UnknownKind as exc:
            if dry_run and key.group_kind in self.crd_kinds:
                return result(Action.CREATED, "its CustomResourceDefinition is created by the same sync")
            return result(Action.FAILED, str(exc))
        # Kinds served only since a CRD of this sync was established were not prefetched.
        live = prefetched[key] if key in prefetched else await self.manager.get(path)
        desired_digest = self.rendered.digest(key) if key in self.rendered.objects else None
        if live is not None and provably_unchanged(old.applied_digest(key), obj, live, desired_digest=desired_digest):
            return result(Action.UNCHANGED, live=live)
        if live is None and not dry_run:
            # Nothing to compare with: create it (the apply itself validates, as a dry run would).
            try:
                created = await self.manager.create(key, path, obj, force=force)
            except ApiError as exc:
                return result(Action.FAILED, str(exc))
            return result(Action.CREATED, "", created)
        try:
            dry = await self.manager.dry_run(path, obj, force=force, explain_conflict=dry_run)
        except ApiError as exc:
            if dry_run and live is None and exc.status == 404 and key.namespace in self.desired_namespaces:
                return result(Action.CREATED, f"namespace {key.namespace} is created by the same sync")
            return result(Action.FAILED, str(exc), live)
        conflict = f"{dry.conflict}; --force-conflicts takes ownership" if dry.conflict else ""
        if conflict and not dry_run:
            return result(Action.FAILED, conflict, live)
        if live is not None and not differs(dry.result, live):
            return result(Action.UNCHANGED, live=live)
        action = Action.CREATED if live is None else Action.CONFIGURED
        diff = mask_diffs(key, tuple(field_diffs(normalise(dry.result), normalise(live)))) if live is not None else ()
        adopted = live is not None and not is_managed_by_fleet(live, self.cluster)
        # A plan still shows what a conflicting change would be.
        message = conflict or ("adopted: it existed before fleet applied it" if adopted else "")
        if dry_run:
            return result(action, message, live, diff=diff)
        try:
            applied = await self.manager.apply(path, obj, force=force)
        except ApiError as exc:
            return result(Action.FAILED, str(exc), live)
        return result(action, message, applied, diff=diff)

    async def _wait_for_crds(self, applied: list[_Applied]) -> None:
        """Custom resources are applied only once their definition is Established and discoverable."""
        for item in applied:
            if item.change.key.group_kind != CRD or item.change.action is Action.FAILED:
                continue
            if item.change.action is Action.UNCHANGED and item.live and assess(item.live).code is Code.HEALTHY:
                continue  # established already: no request needed
            timeout = self.options.crd_timeout
            if not await self.manager.wait_established(self.desired[item.change.key], timeout=timeout):
                raise ClusterError(self.cluster, f"{item.change.key} not Established after {timeout:.0f}s")

    async def _wait_healthy(self, applied: list[_Applied]) -> None:
        """Until every object is Healthy, or Degraded beyond recovery without a change (a failed Job, a
        Deployment past its progress deadline), or the timeout: transient states (a PDB not yet computed,
        a crash loop that may settle, an unschedulable pod) are waited through."""
        pending = {i: a for i, a in enumerate(applied) if a.change.action is not Action.FAILED}
        deadline = time.monotonic() + self.options.wait_timeout
        while pending:
            for index, item in list(pending.items()):
                key = item.change.key
                health = assess(await self.manager.get_object(self.desired[key]["apiVersion"], key))
                change = item.change
                applied[index].change = ObjectChange(change.key, change.action, change.message, change.diff, health)
                if health.code is Code.HEALTHY or health.terminal:
                    del pending[index]
            if not pending or time.monotonic() > deadline:
                return
            await asyncio.sleep(1.0)
