"""The drift scan of one cluster: every object fleet manages compared with what Git wants, read-only
(what the kinds of drift mean: ``fleet.model.drift``; the comparison rules: ``fleet.model.compare``)."""

from __future__ import annotations

from typing import Any

from fleet.concurrency import run_all
from fleet.engine.inventory import read_configmap
from fleet.engine.manager import ResourceManager
from fleet.kube.api import ApiError
from fleet.model.compare import (
    field_diffs,
    fleet_write_time,
    foreign_metadata,
    last_change,
    normalise,
    provably_unchanged,
    specified_diffs,
)
from fleet.model.drift import PRUNE_PENDING, ClusterDrift, DriftField, DriftItem, DriftType
from fleet.model.health import Health, assess, worst
from fleet.model.inventory import Inventory, parse
from fleet.model.masking import mask_diffs, mask_pair
from fleet.model.objects import ObjectKey
from fleet.model.rendered import RenderedCluster
from fleet.model.vocabulary import INVENTORY_NAME


class DriftScan:
    def __init__(
        self,
        manager: ResourceManager,
        rendered: RenderedCluster,
        *,
        inventory_name: str = INVENTORY_NAME,
        strict: bool = False,
    ) -> None:
        self.manager = manager
        self.strict = strict
        self.rendered = rendered
        self.inventory_name = inventory_name

    async def run(self) -> ClusterDrift:
        inventory_live = await read_configmap(self.manager, self.inventory_name)
        inventory = parse(inventory_live, self.inventory_name)
        live = await self.manager.fetch_live(self.rendered.objects)
        keys = list(self.rendered.objects)
        results = await run_all(self._object(key, self.rendered.objects[key], live, inventory) for key in keys)
        items: list[DriftItem] = []
        healths: dict[ObjectKey, Health] = {}
        for key, (item, health) in zip(keys, results, strict=True):
            healths[key] = health
            if item is not None:
                items.append(item)
        for key in sorted(k for k in inventory.entries if k not in self.rendered.objects):
            items.append(DriftItem(key, DriftType.EXTRA, message=PRUNE_PENDING))
        written = fleet_write_time(inventory_live) if inventory_live else ""
        return ClusterDrift(tuple(items), worst(healths.values()), healths, inventory, written)

    async def _object(
        self,
        key: ObjectKey,
        obj: dict[str, Any],
        prefetched: dict[ObjectKey, dict[str, Any] | None],
        inventory: Inventory,
    ) -> tuple[DriftItem | None, Health]:
        if key not in prefetched:
            message = f"the cluster serves no {obj['kind']} in {obj['apiVersion']}"
            return DriftItem(key, DriftType.MISSING, message=message), assess(None)
        live = prefetched[key]
        if live is None:
            return DriftItem(key, DriftType.MISSING, message="not found in the cluster"), assess(None)
        health = assess(live)
        foreign = foreign_metadata(obj, live) if self.strict else []
        desired_digest = self.rendered.digest(key) if key in self.rendered.objects else None
        unchanged = provably_unchanged(inventory.applied_digest(key), obj, live, desired_digest=desired_digest)
        if unchanged and not foreign:
            return None, health  # no request needed: Git's fields are all there, untouched by anyone else
        path = await self.manager.path_of(obj["apiVersion"], key)
        drift_type = DriftType.MODIFIED
        message = ""
        try:
            dry = await self.manager.dry_run(path, obj)
            if dry.conflict:
                drift_type, message = DriftType.CONFLICT, dry.conflict
            want, have = normalise(dry.result), normalise(live)
            diffs = field_diffs(want, have)
        except ApiError as exc:
            # The server rejects the merge of Git's object into the live one (for example a port renumbered
            # behind fleet's back collides with Git's): compare the fields Git specifies instead.
            message = f"a sync would fail: {exc}"
            want, have = normalise(obj), normalise(live)
            diffs = specified_diffs(want, have)
        fields = []
        for diff in diffs:
            manager, when = last_change(live, diff.path)
            fields.append(DriftField(diff.path, diff.desired, diff.live, manager, when))
        for path_, value in foreign:
            if not any(f.path == path_ for f in fields):
                manager, when = last_change(live, path_)
                fields.append(DriftField(path_, None, value, manager, when))
        if not fields and drift_type is DriftType.MODIFIED:
            return None, health
        # Compared on real values above; from here on a Secret's values are hidden.
        want, have = mask_pair(key, want, have)
        return DriftItem(key, drift_type, mask_diffs(key, tuple(fields)), message, want, have), health
