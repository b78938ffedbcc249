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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from fleet import inventory as inv
from fleet.changeset import Action, ChangeSet, ObjectChange
from fleet.concurrency import run_all
from fleet.diff import differs, field_diffs, normalise
from fleet.errors import ClusterError, PermanentClusterError
from fleet.health import Code, Health, assess, worst
from fleet.kube.api import APPLY_CONTENT_TYPE, FIELD_MANAGER, ApiError, ClusterApi, server_version
from fleet.kube.discovery import Discovery, UnknownKind
from fleet.kube.live import fetch_live, provably_unchanged
from fleet.masking import mask_diffs
from fleet.objects import ObjectKey
from fleet.ordering import apply_order, kind_rank
from fleet.render.engine import CLUSTER_LABEL, MANAGED_BY, RenderedCluster
from fleet.served import CRD, crd_kinds, describe, unserved_objects

SERVICE_ACCOUNT_WAIT = 30.0  # seconds a Pod create waits for its namespace's ServiceAccount


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
    inventory: str = inv.NAME  # the ConfigMap in fleet-system that records what this fleet applied


@dataclass
class _Applied:
    change: ObjectChange
    live: dict[str, Any] | None
    entry: inv.Entry | None = None


def _is_managed_here(live: dict[str, Any], cluster: str) -> bool:
    labels = (live.get("metadata") or {}).get("labels") or {}
    return labels.get(MANAGED_BY) == "fleet" and labels.get(CLUSTER_LABEL) == cluster


def _prune_order(entry: inv.Entry) -> tuple[int, int]:
    # Reverse apply order (custom resources before their CRDs), namespaces last of all.
    return (1 if entry.key.group_kind == ("", "Namespace") else 0, -kind_rank(entry.key))


class ClusterSync:
    def __init__(
        self, api: ClusterApi, rendered: RenderedCluster, options: SyncOptions, discovery: Discovery | None = None
    ) -> None:
        self.api = api
        self.rendered = rendered
        self.options = options
        self.cluster = rendered.cluster.name
        self.discovery = discovery or Discovery(api)  # the hub passes one that lives across reconciles
        self.desired = dict(rendered.objects)
        self.crd_kinds = crd_kinds(self.desired)
        self.desired_namespaces = {k.name for k in self.desired if k.group_kind == ("", "Namespace")}
        self.pending: str | None = None  # why the cluster will not match Git after this sync

    async def run(self) -> ChangeSet:
        started_at, started = time.time(), time.monotonic()
        writes_before, requests_before = self.api.writes, self.api.requests
        try:
            changes = await self._sync()
            error = None
        except ClusterError as exc:
            changes, error = [], exc.detail
        except inv.InventoryError as exc:
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
            writes=self.api.writes - writes_before,
            requests=self.api.requests - requests_before,
            health=health,
        )

    # ---- the steps ----------------------------------------------------------------------------------

    async def _sync(self) -> list[ObjectChange]:
        await self._refuse_unserved()
        old = await inv.read(self.api, self.options.inventory)
        live = await fetch_live(self.api, self.discovery, self.desired)
        entries = [
            inv.Entry(key, obj["apiVersion"], inv.digest(obj), self._adopted(key, live.get(key), old))
            for key, obj in self.desired.items()
        ]
        grown = old.union(entries)
        if not self.options.dry_run and not grown.same_as(old):
            # Before anything is applied: whatever this sync creates is in the inventory even if the
            # process dies halfway, so a later sync can prune it.
            await inv.write(self.api, grown, self.options.inventory)
        applied = await self._apply_all(live, old)
        apply_failed = any(a.change.action is Action.FAILED for a in applied)
        prune_from = grown if not self.options.dry_run else old
        prune_changes, kept = await self._prune(prune_from, skip_reason="apply failed" if apply_failed else None)
        if self.options.wait and not self.options.dry_run:
            await self._wait_healthy(applied)
        changes = [a.change for a in applied] + prune_changes
        if not self.options.dry_run:
            failed = apply_failed or any(c.action is Action.FAILED for c in prune_changes)
            final = inv.Inventory({e.key: grown.entries[e.key] for e in entries}, old.revision, old.release)
            final = final.union(kept)
            if not failed and self.pending is None:
                # Only a cluster that now matches Git records the revision as applied.
                final = final.with_revision(self.rendered.revision, self.rendered.release)
            if not final.same_as(grown):
                await inv.write(self.api, final, self.options.inventory)
        return changes

    async def _refuse_unserved(self) -> None:
        """A cluster that does not serve an API version Git uses (a fleet mid-upgrade: one cluster a minor
        behind, an API removed in a newer minor) gets nothing of this sync: applying the rest would leave it
        half on the new revision. Kinds a CRD of this same sync defines are served once it is established."""
        unserved = await unserved_objects(self.discovery, self.desired)
        if unserved:
            version = await server_version(self.api)
            detail = describe(unserved, self.cluster, version)
            raise PermanentClusterError(self.cluster, f"not applied, nothing changed here: {detail}")

    def _adopted(self, key: ObjectKey, live: dict[str, Any] | None, old: inv.Inventory) -> bool:
        """Existed before fleet applied it, and fleet never recorded it: prune will leave it in place."""
        return live is not None and key not in old.entries and not _is_managed_here(live, self.cluster)

    async def _apply_all(self, live: dict[ObjectKey, dict[str, Any] | None], old: inv.Inventory) -> list[_Applied]:
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
        old: inv.Inventory,
    ) -> _Applied:
        def result(action: Action, message: str = "", live: Any = None, **kw: Any) -> _Applied:
            health = assess(live) if live is not None else None
            return _Applied(ObjectChange(key, action, message, health=health, **kw), live, None)

        try:
            resource = await self.discovery.resource(obj["apiVersion"], obj["kind"])
        except UnknownKind as exc:
            if self.options.dry_run and key.group_kind in self.crd_kinds:
                return result(Action.CREATED, "its CustomResourceDefinition is created by the same sync")
            return result(Action.FAILED, str(exc))
        path = resource.object_path(key)
        # Kinds served only since a CRD of this sync was established were not prefetched.
        live = prefetched[key] if key in prefetched else await self._get(path)
        query = {"fieldManager": FIELD_MANAGER, "force": "true" if self.options.force_conflicts else "false"}
        if live is not None and provably_unchanged(old.entries.get(key), obj, live):
            return result(Action.UNCHANGED, live=live)
        if live is None and not self.options.dry_run:
            # Nothing to compare with: create it (the apply itself validates, as a dry run would).
            try:
                created = await self._create(key, path, obj, query)
            except ApiError as exc:
                return result(Action.FAILED, str(exc))
            return result(Action.CREATED, "", created)
        conflict = ""
        try:
            try:
                dry = await self._patch(path, obj, {**query, "dryRun": "All"})
            except ApiError as exc:
                if exc.status != 409:
                    raise
                # "Apply failed with 1 conflict: conflict with "kubectl-edit" using apps/v1: .spec.replicas"
                conflict = f"{exc.message}; --force-conflicts takes ownership"
                if not self.options.dry_run:
                    return result(Action.FAILED, conflict, live)
                # A plan still shows what the change would be.
                dry = await self._patch(path, obj, {**query, "force": "true", "dryRun": "All"})
        except ApiError as exc:
            if self.options.dry_run and live is None and exc.status == 404 and key.namespace in self.desired_namespaces:
                return result(Action.CREATED, f"namespace {key.namespace} is created by the same sync")
            return result(Action.FAILED, str(exc), live)
        if live is not None and not differs(dry, live):
            return result(Action.UNCHANGED, live=live)
        action = Action.CREATED if live is None else Action.CONFIGURED
        diff = mask_diffs(key, tuple(field_diffs(normalise(dry), normalise(live)))) if live is not None else ()
        adopted = live is not None and not _is_managed_here(live, self.cluster)
        message = conflict or ("adopted: it existed before fleet applied it" if adopted else "")
        if self.options.dry_run:
            return result(action, message, live, diff=diff)
        try:
            applied = await self._patch(path, obj, query)
        except ApiError as exc:
            return result(Action.FAILED, str(exc), live)
        return result(action, message, applied, diff=diff)

    async def _get(self, path: str) -> dict[str, Any] | None:
        try:
            found = await self.api.get(path)
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise
        return found if isinstance(found, dict) else None

    async def _create(self, key: ObjectKey, path: str, obj: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        """Create by apply. A Pod in a namespace of this same sync is refused by the ServiceAccount admission
        plugin until the controller manager has created the namespace's ServiceAccount (a second or so):
        that refusal is retried for a while, as a workload's own controller would."""
        deadline = time.monotonic() + SERVICE_ACCOUNT_WAIT
        while True:
            try:
                return await self._patch(path, obj, query)
            except ApiError as exc:
                waiting = key.group_kind == ("", "Pod") and exc.status == 403 and "service account" in exc.message
                if not waiting or time.monotonic() > deadline:
                    raise
            await asyncio.sleep(0.5)

    async def _patch(self, path: str, obj: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        result = await self.api.request("PATCH", path, query=query, body=obj, content_type=APPLY_CONTENT_TYPE)
        return result if isinstance(result, dict) else {}

    async def _wait_for_crds(self, applied: list[_Applied]) -> None:
        """Custom resources are applied only once their definition is Established and discoverable."""
        for item in applied:
            if item.change.key.group_kind != CRD or item.change.action is Action.FAILED:
                continue
            if item.change.action is Action.UNCHANGED and item.live and assess(item.live).code is Code.HEALTHY:
                continue  # established already: no request needed
            crd = self.desired[item.change.key]
            path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{item.change.key.name}"

            async def established(crd_path: str = path) -> bool:
                live = await self._get(crd_path)
                return live is not None and assess(live).code is Code.HEALTHY

            if not await _poll(established, timeout=self.options.crd_timeout):
                raise ClusterError(
                    self.cluster, f"{item.change.key} not Established after {self.options.crd_timeout:.0f}s"
                )
            group = str((crd.get("spec") or {}).get("group", ""))
            for version in (crd.get("spec") or {}).get("versions") or []:
                self.discovery.forget(f"{group}/{version.get('name')}")

    async def _prune(
        self, old: inv.Inventory, *, skip_reason: str | None
    ) -> tuple[list[ObjectChange], list[inv.Entry]]:
        """Delete old - desired. Returns the changes and the entries that must stay in the inventory."""
        stale = sorted((e for k, e in old.entries.items() if k not in self.desired), key=_prune_order)
        if not stale:
            return [], []
        prunable = [e for e in stale if not e.adopted]
        if not self.options.prune:
            message = "not desired any more; prune disabled"
            self.pending = _left(prunable, "prune disabled: sync with --prune to delete them") if prunable else None
            return [ObjectChange(e.key, Action.SKIPPED, message) for e in stale], stale
        if skip_reason:
            self.pending = _left(prunable, f"prune postponed: {skip_reason}; sync again") if prunable else None
            return [ObjectChange(e.key, Action.SKIPPED, f"prune postponed: {skip_reason}") for e in stale], stale
        total = len(old.entries)
        too_many = (not self.desired) or (len(stale) > 1 and len(stale) > self.options.max_prune_ratio * total)
        if too_many and not self.options.force_prune:
            message = (
                f"prune refused: it would delete {len(stale)} of {total} objects fleet manages here "
                f"(limit {self.options.max_prune_ratio:.0%}); check the commit, or rerun with --force-prune"
            )
            self.pending = message
            return [ObjectChange(e.key, Action.SKIPPED, message) for e in stale], stale
        changes: list[ObjectChange] = []
        kept: list[inv.Entry] = []
        for _, group in groupby(stale, key=_prune_order):
            entries = list(group)
            for entry, change in zip(entries, await run_all(self._delete(e) for e in entries), strict=True):
                changes.append(change)
                if change.action is Action.FAILED:
                    kept.append(entry)
        return changes, kept

    async def _delete(self, entry: inv.Entry) -> ObjectChange:
        key = entry.key
        if entry.adopted:
            return ObjectChange(key, Action.SKIPPED, "not desired any more; left in place (fleet adopted it)")
        try:
            resource = await self.discovery.resource(entry.api_version, key.kind)
        except UnknownKind:
            return ObjectChange(key, Action.DELETED, "already gone (its API no longer exists)")
        path = resource.object_path(key)
        live = await self._get(path)
        if live is None:
            return ObjectChange(key, Action.DELETED, "already gone")
        if not _is_managed_here(live, self.cluster):
            return ObjectChange(key, Action.SKIPPED, "no longer labelled as fleet's on this cluster; left in place")
        if self.options.dry_run:
            return ObjectChange(key, Action.DELETED, "would be deleted")
        uid = (live.get("metadata") or {}).get("uid")
        body = {
            "apiVersion": "v1",
            "kind": "DeleteOptions",
            "propagationPolicy": "Background",
            # Never delete an object that was recreated since it was read.
            "preconditions": {"uid": uid},
        }
        try:
            await self.api.request("DELETE", path, body=body)
        except ApiError as exc:
            if exc.status == 404:
                return ObjectChange(key, Action.DELETED, "already gone")
            if exc.status == 409:
                return ObjectChange(key, Action.SKIPPED, "recreated since it was read; left in place")
            return ObjectChange(key, Action.FAILED, f"delete failed: {exc}")
        return ObjectChange(key, Action.DELETED)

    async def _wait_healthy(self, applied: list[_Applied]) -> None:
        """Until every object is Healthy, or Degraded beyond recovery without a change (a failed Job, a
        Deployment past its progress deadline), or the timeout: transient states (a PDB not yet computed,
        a crash loop that may settle, an unschedulable pod) are waited through."""
        pending = {i: a for i, a in enumerate(applied) if a.change.action is not Action.FAILED}
        deadline = time.monotonic() + self.options.wait_timeout
        while pending:
            for index, item in list(pending.items()):
                key = item.change.key
                resource = await self.discovery.resource(self.desired[key]["apiVersion"], key.kind)
                live = await self._get(resource.object_path(key))
                health = assess(live)
                change = item.change
                applied[index].change = ObjectChange(change.key, change.action, change.message, change.diff, health)
                if health.code is Code.HEALTHY or health.terminal:
                    del pending[index]
            if not pending or time.monotonic() > deadline:
                return
            await asyncio.sleep(1.0)


def _left(entries: list[inv.Entry], why: str) -> str:
    return f"{len(entries)} object{'s' if len(entries) != 1 else ''} no longer in Git left in place ({why})"


async def _poll(predicate: Callable[[], Awaitable[bool]], *, timeout: float, interval: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if await predicate():
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(interval)
