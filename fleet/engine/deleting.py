"""Deleting objects: only the very object that was read (a uid precondition), in the background."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from fleet.engine.base import ManagerBase
from fleet.kube.api import ApiError


class Deletion(StrEnum):
    DELETED = "deleted"
    GONE = "gone"  # deleted by someone else in the meantime
    RECREATED = "recreated"  # another object of the same name exists now: left in place


class Deleting(ManagerBase):
    async def delete(self, path: str, live: dict[str, Any]) -> Deletion:
        """Delete the object ``live`` was read from. Any refusal other than "gone" or "recreated" raises."""
        body = {
            "apiVersion": "v1",
            "kind": "DeleteOptions",
            "propagationPolicy": "Background",
            # Never delete an object that was recreated since it was read.
            "preconditions": {"uid": (live.get("metadata") or {}).get("uid")},
        }
        try:
            await self.api.request("DELETE", path, body=body)
        except ApiError as exc:
            if exc.status == 404:
                return Deletion.GONE
            if exc.status == 409:
                return Deletion.RECREATED
            raise
        return Deletion.DELETED
