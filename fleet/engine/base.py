"""What every verb of the resource manager shares: the cluster's API, its discovery, and the one request
that server-side applies an object (for real or as a dry run)."""

from __future__ import annotations

from typing import Any

from fleet.kube.api import APPLY_CONTENT_TYPE, ClusterApi
from fleet.kube.discovery import Discovery
from fleet.model.vocabulary import FIELD_MANAGER


class ManagerBase:
    def __init__(self, api: ClusterApi, discovery: Discovery | None = None) -> None:
        self.api = api
        self.cluster = api.cluster
        # The hub keeps one manager (and so one discovery cache) per cluster across reconciles.
        self.discovery = discovery or Discovery(api)

    async def _server_side_apply(
        self, path: str, obj: dict[str, Any], *, force: bool, dry_run: bool = False
    ) -> dict[str, Any]:
        query = {"fieldManager": FIELD_MANAGER, "force": "true" if force else "false"}
        if dry_run:
            query["dryRun"] = "All"
        result = await self.api.request("PATCH", path, query=query, body=obj, content_type=APPLY_CONTENT_TYPE)
        return result if isinstance(result, dict) else {}
