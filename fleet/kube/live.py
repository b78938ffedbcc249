"""Reading the live state of the objects fleet wants, cheaply: one LIST per resource type and namespace
(not one GET per object), and a local test for "applying this cannot change anything"."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fleet import inventory as inv
from fleet.concurrency import run_all
from fleet.diff import foreign_owned, leaf_paths, normalise, specified_diffs
from fleet.kube.api import ApiError, ClusterApi
from fleet.kube.discovery import Discovery, Resource, UnknownKind
from fleet.objects import ObjectKey


async def list_all(api: ClusterApi, collection: str) -> list[dict[str, Any]]:
    """Every item of a collection, page by page; empty when the namespace does not exist (yet)."""
    items: list[dict[str, Any]] = []
    token = ""
    while True:
        query = {"limit": "500", **({"continue": token} if token else {})}
        try:
            page = await api.request("GET", collection, query=query)
        except ApiError as exc:
            if exc.status == 404:
                return items
            raise
        items += page.get("items") or []
        token = (page.get("metadata") or {}).get("continue") or ""
        if not token:
            return items


async def fetch_live(
    api: ClusterApi, discovery: Discovery, desired: Mapping[ObjectKey, dict[str, Any]]
) -> dict[ObjectKey, dict[str, Any] | None]:
    """The live state of every desired object (None: not there). Kinds the cluster does not serve (yet)
    are absent from the result."""
    groups: dict[tuple[str, str], list[ObjectKey]] = {}
    resources: dict[str, Resource] = {}
    kinds: dict[tuple[str, str], str] = {}
    for key, obj in desired.items():
        try:
            resource = await discovery.resource(obj["apiVersion"], obj["kind"])
        except UnknownKind:
            continue
        collection = resource.collection_path(key.namespace if resource.namespaced else None)
        resources[collection] = resource
        groups.setdefault((collection, obj["apiVersion"]), []).append(key)
        kinds[(collection, obj["apiVersion"])] = obj["kind"]

    async def one(collection: str, api_version: str) -> dict[ObjectKey, dict[str, Any] | None]:
        found = {}
        for item in await list_all(api, collection):
            # LIST items carry no apiVersion and kind; health and diffs need them.
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kinds[(collection, api_version)])
            meta = item.get("metadata") or {}
            found[(meta.get("namespace") or "", meta.get("name"))] = item
        namespaced = resources[collection].namespaced
        return {
            key: found.get((key.namespace if namespaced else "", key.name)) for key in groups[(collection, api_version)]
        }

    result: dict[ObjectKey, dict[str, Any] | None] = {}
    for found in await run_all(one(c, v) for c, v in groups):
        result.update(found)
    return result


def provably_unchanged(entry: inv.Entry | None, desired: dict[str, Any], live: dict[str, Any]) -> bool:
    """True when applying ``desired`` cannot change ``live``, decided without a request: Git has not changed
    the object since fleet last applied it (same digest in the inventory), every field Git sets has the
    same value live, and no other field manager owns any of those fields. Anything else (a server that
    normalises a value, a field another manager touched) needs a server-side dry run."""
    if entry is None or entry.digest != inv.digest(desired) or entry.adopted:
        return False
    want, have = normalise(desired), normalise(live)
    if specified_diffs(want, have):
        return False
    return not foreign_owned(live, leaf_paths(want))
