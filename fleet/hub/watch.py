"""Watches on what fleet manages in one cluster: one stream per resource type, across namespaces, limited
to objects labelled for this cluster. A change to an object's content (not its status) or a deletion
calls ``on_change``, so that drift shows in the report within a second.

Each stream lists first (for a resourceVersion), resumes from the last one it saw, relists after
410 Gone, and reconnects with backoff."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import Callable
from typing import Any

import aiohttp

from fleet.concurrency import cancelling, stop_task
from fleet.errors import ClusterError
from fleet.kube.api import ApiError, ClusterApi, stream_lines
from fleet.kube.discovery import Resource
from fleet.model.compare import normalise
from fleet.model.vocabulary import CLUSTER_LABEL

WATCH_SECONDS = 290  # the server ends a watch after this; the stream is resumed from its resourceVersion


def _fingerprint(obj: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(normalise(obj), sort_keys=True, default=str).encode()).hexdigest()


class ClusterWatch:
    def __init__(
        self, api: ClusterApi, on_change: Callable[[str], None], on_reconnect: Callable[[], None] | None = None
    ) -> None:
        self.api = api
        self.on_change = on_change
        self.on_reconnect = on_reconnect or (lambda: None)
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.ready: dict[str, asyncio.Event] = {}

    def update(self, resources: list[Resource]) -> None:
        """Watch exactly these resource types (started and stopped as the desired set changes)."""
        wanted = {r.collection_path(): r for r in resources}
        for path in list(self.tasks):
            if path not in wanted:
                self.tasks.pop(path).cancel()
        for path, resource in wanted.items():
            if path not in self.tasks:
                self.ready[path] = asyncio.Event()
                self.tasks[path] = asyncio.create_task(self._run(resource, self.ready[path]), name=f"watch {path}")

    async def wait_ready(self, timeout: float = 10.0) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(e.wait() for e in self.ready.values())), timeout)

    async def close(self) -> None:
        await asyncio.gather(*(stop_task(task) for task in self.tasks.values()))
        self.tasks.clear()

    async def _run(self, resource: Resource, ready: asyncio.Event) -> None:
        path = resource.collection_path()
        selector = f"{CLUSTER_LABEL}={self.api.cluster}"
        seen: dict[str, str] = {}
        version = ""
        backoff = 0.5
        while True:
            if cancelling():
                raise asyncio.CancelledError
            try:
                if not version:
                    listed = await self.api.get(path, labelSelector=selector)
                    version = str((listed.get("metadata") or {}).get("resourceVersion", ""))
                    seen = {_uid(o): _fingerprint(o) for o in listed.get("items") or []}
                ready.set()
                query = {
                    "watch": "1",
                    "labelSelector": selector,
                    "resourceVersion": version,
                    "allowWatchBookmarks": "true",
                    "timeoutSeconds": str(WATCH_SECONDS),
                }
                async for line in stream_lines(self.api, path, query):
                    event = json.loads(line)
                    kind, obj = event.get("type"), event.get("object") or {}
                    if kind == "ERROR":
                        if obj.get("code") == 410:  # too old: list again
                            version = ""
                        break
                    version = str((obj.get("metadata") or {}).get("resourceVersion", version))
                    if kind == "BOOKMARK":
                        continue
                    uid = _uid(obj)
                    if kind == "DELETED":
                        seen.pop(uid, None)
                        self.on_change(f"{resource.kind} {_name(obj)} deleted")
                        continue
                    fingerprint = _fingerprint(obj)
                    what = "changed" if seen.get(uid) != fingerprint else "status"
                    seen[uid] = fingerprint
                    # Status updates matter too: they move health (a rollout becoming Available).
                    self.on_change(f"{resource.kind} {_name(obj)} {what}")
                backoff = 0.5
            except asyncio.CancelledError:
                raise
            except (ClusterError, ApiError, aiohttp.ClientError, OSError, TimeoutError, ValueError):
                if cancelling():  # stopped mid-read: aiohttp may report it as a connection error
                    raise asyncio.CancelledError from None
                self.on_reconnect()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)


def _uid(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("uid", ""))


def _name(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}" if meta.get("namespace") else str(meta.get("name"))
