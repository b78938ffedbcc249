"""The resource manager's verbs against a real apiserver: what each answers when the object is absent,
owned by another manager, deleted or recreated behind fleet's back."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from fleet.engine.deleting import Deletion
from fleet.engine.manager import ResourceManager
from fleet.kube.api import ApiError, ClusterApi
from fleet.kube.discovery import UnknownKind
from fleet.model.objects import ObjectKey
from tests.support.lab import LabSession


@pytest.fixture
async def manager(lab_session: LabSession) -> AsyncIterator[tuple[ResourceManager, str]]:
    namespace = f"rm-{uuid.uuid4().hex[:8]}"
    async with lab_session.api("dev-1") as raw:
        rm = ResourceManager(ClusterApi("dev-1", raw))
        ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
        await rm.apply(f"/api/v1/namespaces/{namespace}", ns)
        try:
            yield rm, namespace
        finally:
            await rm.api.request("DELETE", f"/api/v1/namespaces/{namespace}")


def config_map(namespace: str, **data: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": namespace}, "data": data}


async def test_reading_absent_objects_and_unknown_kinds(manager: tuple[ResourceManager, str]) -> None:
    rm, namespace = manager
    key = ObjectKey("", "ConfigMap", namespace, "cm")
    assert await rm.get_object("v1", key) is None
    assert await rm.fetch_live({key: config_map(namespace)}) == {key: None}
    with pytest.raises(UnknownKind):
        await rm.resource("example.com/v1", "Widget")
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": namespace}}
    [unserved] = await rm.unserved({ObjectKey("example.com", "Widget", namespace, "w"): widget})
    assert unserved.kind == "Widget"


async def test_dry_run_reports_a_conflict_and_what_the_forced_apply_would_do(
    manager: tuple[ResourceManager, str],
) -> None:
    rm, namespace = manager
    path = await rm.path_of("v1", ObjectKey("", "ConfigMap", namespace, "cm"))
    await rm.apply(path, config_map(namespace, color="blue"))
    # Someone else takes the field over.
    query = {"fieldManager": "kubectl-edit", "force": "true"}
    body = config_map(namespace, color="red")
    await rm.api.request("PATCH", path, query=query, body=body, content_type="application/apply-patch+yaml")

    writes = rm.api.writes
    explained = await rm.dry_run(path, config_map(namespace, color="blue"))
    assert 'conflict with "kubectl-edit"' in explained.conflict
    assert explained.result["data"] == {"color": "blue"}
    refused = await rm.dry_run(path, config_map(namespace, color="blue"), explain_conflict=False)
    assert refused.conflict and refused.result == {}
    assert rm.api.writes == writes  # dry runs write nothing
    assert (await rm.get(path) or {})["data"] == {"color": "red"}
    with pytest.raises(ApiError) as refused_apply:
        await rm.apply(path, config_map(namespace, color="blue"))
    assert refused_apply.value.status == 409


async def test_delete_touches_only_the_object_that_was_read(manager: tuple[ResourceManager, str]) -> None:
    rm, namespace = manager
    path = await rm.path_of("v1", ObjectKey("", "ConfigMap", namespace, "cm"))
    first = await rm.apply(path, config_map(namespace, v="1"))
    await rm.api.request("DELETE", path)
    second = await rm.apply(path, config_map(namespace, v="2"))  # recreated: another uid
    assert await rm.delete(path, first) is Deletion.RECREATED
    assert (await rm.get(path) or {})["data"] == {"v": "2"}
    assert await rm.delete(path, second) is Deletion.DELETED
    assert await rm.delete(path, second) is Deletion.GONE


async def test_nothing_is_listed_in_a_namespace_that_does_not_exist(manager: tuple[ResourceManager, str]) -> None:
    """With the cluster's namespaces listed first (as a sync does when Git has Namespaces), a new namespace's
    objects are known absent without a LIST per kind; an existing namespace's objects are still read."""
    rm, namespace = manager
    await rm.apply(f"/api/v1/namespaces/{namespace}/configmaps/cm", config_map(namespace, a="1"))
    missing = f"{namespace}-new"
    desired = {
        ObjectKey("", "Namespace", "", namespace): {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": namespace},
        },
        ObjectKey("", "Namespace", "", missing): {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": missing},
        },
        ObjectKey("", "ConfigMap", namespace, "cm"): config_map(namespace),
        ObjectKey("", "ConfigMap", missing, "cm"): config_map(missing),
        ObjectKey("apps", "Deployment", missing, "web"): {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": missing},
        },
    }
    namespaces = await rm.namespaces()
    assert namespace in namespaces and missing not in namespaces
    for obj in desired.values():  # discovery first: its requests are not what is counted
        await rm.resource(str(obj["apiVersion"]), str(obj["kind"]))
    before = rm.api.requests
    live = await rm.fetch_live(desired, namespaces)
    assert rm.api.requests - before == 1  # the ConfigMaps of the existing namespace; nothing else
    assert live[ObjectKey("", "Namespace", "", namespace)]["kind"] == "Namespace"  # type: ignore[index]
    assert live[ObjectKey("", "Namespace", "", missing)] is None
    assert live[ObjectKey("", "ConfigMap", namespace, "cm")]["data"] == {"a": "1"}  # type: ignore[index]
    assert live[ObjectKey("", "ConfigMap", missing, "cm")] is None
    assert live[ObjectKey("apps", "Deployment", missing, "web")] is None
    assert await rm.fetch_live(desired) == live  # the same answer as listing every collection
