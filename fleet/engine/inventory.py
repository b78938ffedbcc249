"""Reading and writing a cluster's inventory ConfigMap (the format is ``fleet.model.inventory``).

The inventory is the only input of prune: an object that is not in it is never deleted. ``name`` lets
several independent fleets (or tests) share a cluster without pruning each other's objects.
"""

from __future__ import annotations

from typing import Any

from fleet.engine.manager import ResourceManager
from fleet.kube.api import ApiError
from fleet.model.inventory import Inventory, parse
from fleet.model.vocabulary import INVENTORY_NAME, INVENTORY_NAMESPACE


def _path(name: str) -> str:
    return f"/api/v1/namespaces/{INVENTORY_NAMESPACE}/configmaps/{name}"


async def read_configmap(manager: ResourceManager, name: str = INVENTORY_NAME) -> dict[str, Any] | None:
    """The inventory ConfigMap as stored (its managedFields say when fleet last wrote it); None if absent."""
    return await manager.get(_path(name))


async def read(manager: ResourceManager, name: str = INVENTORY_NAME) -> Inventory:
    """The cluster's inventory; empty when there is none yet."""
    return parse(await read_configmap(manager, name), name)


async def write(manager: ResourceManager, inventory: Inventory, name: str = INVENTORY_NAME) -> None:
    body = inventory.to_configmap(manager.cluster, name)
    try:
        await manager.apply(_path(name), body, force=True)
    except ApiError as exc:
        if exc.status != 404:
            raise
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": INVENTORY_NAMESPACE}}
        await manager.apply(f"/api/v1/namespaces/{INVENTORY_NAMESPACE}", namespace, force=True)
        await manager.apply(_path(name), body, force=True)
