"""Discovery: which API resource serves a kind, and whether it is namespaced.

Cached per group-version for the life of a :class:`Discovery` (one per cluster and sync); a kind that a
cached group-version does not list is looked up once more, because a CRD applied a moment ago adds
resources to a group-version that was cached before it existed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from fleet.kube.api import ApiError, ClusterApi
from fleet.model.objects import ObjectKey


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def collection_path(self, namespace: str | None = None) -> str:
        prefix = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            return f"{prefix}/namespaces/{_segment(namespace)}/{self.plural}"
        return f"{prefix}/{self.plural}"

    def path(self, namespace: str, name: str) -> str:
        return f"{self.collection_path(namespace if self.namespaced else None)}/{_segment(name)}"

    def object_path(self, key: ObjectKey) -> str:
        return self.path(key.namespace, key.name)


_PLAIN = re.compile(r"[A-Za-z0-9._~-]+")


def _segment(text: str) -> str:
    """``text`` as one URL path segment. Object names are almost always DNS names, which need no quoting:
    checked with one regular expression instead of quoting character by character."""
    return text if _PLAIN.fullmatch(text) else quote(text, safe="")


class UnknownKind(Exception):
    def __init__(self, api_version: str, kind: str) -> None:
        super().__init__(f"the cluster serves no {kind} in {api_version}")
        self.api_version = api_version
        self.kind = kind


class Discovery:
    def __init__(self, api: ClusterApi) -> None:
        self.api = api
        self._group_versions: dict[str, dict[str, Resource]] = {}

    async def _load(self, api_version: str) -> dict[str, Resource]:
        group, _, version = api_version.rpartition("/")
        path = f"/apis/{group}/{version}" if group else f"/api/{version}"
        try:
            data = await self.api.get(path)
        except ApiError as exc:
            if exc.status == 404:
                return {}
            raise
        resources = {}
        for item in data.get("resources", []):
            if "/" in item.get("name", ""):  # subresources: deployments/status, pods/log
                continue
            resources[item["kind"]] = Resource(group, version, item["kind"], item["name"], bool(item["namespaced"]))
        return resources

    async def resource(self, api_version: str, kind: str) -> Resource:
        cached = self._group_versions.get(api_version)
        if cached is None or kind not in cached:
            cached = await self._load(api_version)
            self._group_versions[api_version] = cached
        if kind not in cached:
            raise UnknownKind(api_version, kind)
        return cached[kind]

    def forget(self, api_version: str) -> None:
        self._group_versions.pop(api_version, None)
