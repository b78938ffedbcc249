"""Waiting on the cluster: a CustomResourceDefinition until it is Established and its kinds discoverable."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fleet.engine.reading import Reading
from fleet.model.health import Code, assess


class Waiting(Reading):
    async def wait_established(self, crd: dict[str, Any], *, timeout: float) -> bool:
        """Until the CRD is Established (False after ``timeout``); then its group-versions are discovered
        afresh, so that its kinds are found at once."""
        name = str((crd.get("metadata") or {}).get("name", ""))
        path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"

        async def established() -> bool:
            live = await self.get(path)
            return live is not None and assess(live).code is Code.HEALTHY

        if not await poll(established, timeout=timeout):
            return False
        group = str((crd.get("spec") or {}).get("group", ""))
        for version in (crd.get("spec") or {}).get("versions") or []:
            self.discovery.forget(f"{group}/{version.get('name')}")
        return True


async def poll(predicate: Callable[[], Awaitable[bool]], *, timeout: float, interval: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if await predicate():
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(interval)
