"""Writing objects: server-side apply, and creation with the short wait a new namespace needs."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fleet.engine.base import ManagerBase
from fleet.kube.api import ApiError
from fleet.model.objects import ObjectKey

SERVICE_ACCOUNT_WAIT = 30.0  # seconds a Pod create waits for its namespace's ServiceAccount


class Applying(ManagerBase):
    async def apply(self, path: str, obj: dict[str, Any], *, force: bool = False) -> dict[str, Any]:
        """Server-side apply as field manager ``fleet``; ``force`` takes over fields other managers own."""
        return await self._server_side_apply(path, obj, force=force)

    async def create(self, key: ObjectKey, path: str, obj: dict[str, Any], *, force: bool = False) -> dict[str, Any]:
        """Create by apply. A Pod in a namespace of this same sync is refused by the ServiceAccount admission
        plugin until the controller manager has created the namespace's ServiceAccount (a second or so):
        that refusal is retried for a while, as a workload's own controller would."""
        deadline = time.monotonic() + SERVICE_ACCOUNT_WAIT
        while True:
            try:
                return await self._server_side_apply(path, obj, force=force)  # apply, one coroutine fewer
            except ApiError as exc:
                waiting = key.group_kind == ("", "Pod") and exc.status == 403 and "service account" in exc.message
                if not waiting or time.monotonic() > deadline:
                    raise
            await asyncio.sleep(0.5)
