"""Reading a cluster's objects: one GET (None when absent), paged LISTs, and the live state of every
desired object in one LIST per resource type and namespace (not one GET per object)."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from fleet.concurrency import run_all
from fleet.engine.base import ManagerBase
from fleet.kube.api import ApiError, server_version
from fleet.kube.discovery import Resource, UnknownKind
from fleet.model.objects import ObjectKey
from fleet.model.served import Unserved, crd_kinds
from fleet.model.vocabulary import SOURCE_ANNOTATION

NAMESPACE = ("", "Namespace")
NAMESPACES = "/api/v1/namespaces"


class Reading(ManagerBase):
    async def resource(self, api_version: str, kind: str) -> Resource:
        """The API resource serving ``kind`` in ``api_version``; raises UnknownKind when there is none."""
        return await self.discovery.resource(api_version, kind)

    async def path_of(self, api_version: str, key: ObjectKey) -> str:
        return (await self.resource(api_version, key.kind)).object_path(key)

    async def get(self, path: str) -> dict[str, Any] | None:
        """The object at ``path``; None when it does not exist."""
        try:
            found = await self.api.get(path)
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise
        return found if isinstance(found, dict) else None

    async def get_object(self, api_version: str, key: ObjectKey) -> dict[str, Any] | None:
        return await self.get(await self.path_of(api_version, key))

    async def list_all(self, collection: str) -> list[dict[str, Any]]:
        """Every item of a collection, page by page; empty when the namespace does not exist (yet)."""
        items: list[dict[str, Any]] = []
        token = ""
        while True:
            query = {"limit": "500", **({"continue": token} if token else {})}
            try:
                page = await self.api.request("GET", collection, query=query)
            except ApiError as exc:
                if exc.status == 404:
                    return items
                raise
            items += page.get("items") or []
            token = (page.get("metadata") or {}).get("continue") or ""
            if not token:
                return items

    async def namespaces(self) -> dict[str, dict[str, Any]]:
        """Every namespace of the cluster, by name (one LIST; the path is the same on every cluster)."""
        found = {}
        for item in await self.list_all(NAMESPACES):
            item.setdefault("apiVersion", "v1")
            item.setdefault("kind", "Namespace")
            found[str((item.get("metadata") or {}).get("name") or "")] = item
        return found

    async def fetch_live(
        self, desired: Mapping[ObjectKey, dict[str, Any]], namespaces: Mapping[str, dict[str, Any]] | None = None
    ) -> dict[ObjectKey, dict[str, Any] | None]:
        """The live state of every desired object (None: not there). Kinds the cluster does not serve (yet)
        are absent from the result. ``namespaces``: every namespace of the cluster, listed already; then
        Namespaces are not listed again, and nothing is listed in a namespace that does not exist (a new
        cluster's first sync needs no LIST per kind and namespace)."""
        groups: dict[tuple[str, str], list[ObjectKey]] = {}
        resources: dict[str, Resource] = {}
        kinds: dict[tuple[str, str], str] = {}
        result: dict[ObjectKey, dict[str, Any] | None] = {}
        for key, obj in desired.items():
            try:
                resource = await self.resource(obj["apiVersion"], obj["kind"])
            except UnknownKind:
                continue
            if namespaces is not None:
                if key.group_kind == NAMESPACE:
                    result[key] = namespaces.get(key.name)
                    continue
                if resource.namespaced and key.namespace not in namespaces:
                    result[key] = None
                    continue
            collection = resource.collection_path(key.namespace if resource.namespaced else None)
            resources[collection] = resource
            groups.setdefault((collection, obj["apiVersion"]), []).append(key)
            kinds[(collection, obj["apiVersion"])] = obj["kind"]

        async def one(collection: str, api_version: str) -> dict[ObjectKey, dict[str, Any] | None]:
            found = {}
            for item in await self.list_all(collection):
                # LIST items carry no apiVersion and kind; health and diffs need them.
                item.setdefault("apiVersion", api_version)
                item.setdefault("kind", kinds[(collection, api_version)])
                meta = item.get("metadata") or {}
                found[(meta.get("namespace") or "", meta.get("name"))] = item
            namespaced = resources[collection].namespaced
            wanted = groups[(collection, api_version)]
            return {key: found.get((key.namespace if namespaced else "", key.name)) for key in wanted}

        for found in await run_all(one(c, v) for c, v in groups):
            result.update(found)
        return result

    async def unserved(self, objects: Mapping[ObjectKey, dict[str, Any]]) -> list[Unserved]:
        """The objects whose API version this cluster does not serve. A kind that a CRD among ``objects``
        defines counts as served (it will be, once established)."""
        defined = crd_kinds(objects)
        # One discovery request per API version, all at once (not one after another as they come up).
        first_kind = {obj["apiVersion"]: obj["kind"] for obj in objects.values()}
        await run_all(self._known(version, kind) for version, kind in first_kind.items())
        found = []
        for key, obj in objects.items():
            if key.group_kind in defined:
                continue
            try:
                await self.resource(obj["apiVersion"], obj["kind"])
            except UnknownKind:
                source = ((obj.get("metadata") or {}).get("annotations") or {}).get(SOURCE_ANNOTATION, "")
                found.append(Unserved(key, obj["apiVersion"], obj["kind"], str(source)))
        return found

    async def _known(self, api_version: str, kind: str) -> None:
        with contextlib.suppress(UnknownKind):
            await self.resource(api_version, kind)

    async def server_version(self) -> str:
        """The cluster's gitVersion (v1.34.4), or "" when it cannot be read: for messages only."""
        return await server_version(self.api)
