"""Applying one file of ``overlays/<env>/patches/``: each document is a strategic-merge patch (an object
naming its target by identity, merged by kustomize: strategic.py) or an RFC 6902 patch with a ``target``
(group, version, kind, name, namespace, labelSelector). Documents apply in order; consecutive
strategic-merge patches go to kustomize together. A patch that matches no object is an error, never
silently ignored."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fleet.errors import RenderError
from fleet.model.objects import ObjectKey
from fleet.render import patches as patching
from fleet.render.objects import check_object, with_namespace

Located = tuple[dict[str, Any], str, int]  # object, file, document number
# (targets, patches) -> result by identity, None for an object a patch deleted
StrategicMerge = Callable[[list[dict[str, Any]], list[dict[str, Any]]], Mapping[ObjectKey, dict[str, Any] | None]]


def apply_patch_file(
    objects: list[Located],
    docs: list[dict[str, Any]],
    path: str,
    cluster: str,
    namespace: str,
    crd_scopes: Mapping[tuple[str, str], str],
    merge: StrategicMerge,
) -> list[Located]:
    def view(obj: dict[str, Any]) -> dict[str, Any]:
        return with_namespace(obj, namespace, crd_scopes)  # as it will be, for matching

    group: list[tuple[int, dict[str, Any]]] = []  # consecutive strategic-merge patches, by number
    try:
        for number, doc in enumerate(docs, start=1):
            if "patch" in doc and "kind" not in doc:
                objects = _merge_group(objects, group, view, merge, path, cluster)
                group = []
                objects = _json_patch(objects, doc, f"patch {number}", view)
            else:
                check_object(doc, path, 0, cluster)
                group.append((number, doc))
        return _merge_group(objects, group, view, merge, path, cluster)
    except patching.PatchError as exc:
        raise RenderError(str(exc), path=path, cluster=cluster) from None


def _json_patch(
    objects: list[Located], doc: dict[str, Any], where: str, view: Callable[[dict[str, Any]], dict[str, Any]]
) -> list[Located]:
    target = patch_target(doc.get("target"), where)
    ops = doc["patch"]
    if not isinstance(ops, list):
        raise patching.PatchError(f"{where}: `patch` must be a list of operations")
    result = list(objects)
    hits = 0
    for index, (obj, source, doc_number) in enumerate(objects):
        if target.matches(view(obj)):
            result[index] = (patching.json_patch(obj, ops), source, doc_number)
            hits += 1
    if not hits:
        raise patching.PatchError(f"{where}: target {target} matches no object")
    return result


def _merge_group(
    objects: list[Located],
    group: list[tuple[int, dict[str, Any]]],
    view: Callable[[dict[str, Any]], dict[str, Any]],
    merge: StrategicMerge,
    path: str,
    cluster: str,
) -> list[Located]:
    """The strategic-merge patches of ``group`` applied by one kustomize run to the objects they name."""
    if not group:
        return objects
    keys = [ObjectKey.of(view(obj)) for obj, _, _ in objects]
    located: dict[ObjectKey, int] = {}
    for index, (key, (_, source, number)) in enumerate(zip(keys, objects, strict=True)):
        if key in located:  # kustomize would refuse the pair; say where both come from, as the renderer does
            first = objects[located[key]]
            raise RenderError(
                f"duplicate object {key}: defined in {first[1]} (document {first[2]}) and in {source}"
                f" (document {number})",
                path=source,
                cluster=cluster,
            )
        located[key] = index
    targets: dict[ObjectKey, dict[str, Any]] = {}
    patches = []
    for number, doc in group:
        want = ObjectKey.of(view(doc))
        if want not in located:
            raise patching.PatchError(f"patch {number}: {want} matches no object")
        target = view(objects[located[want]][0])
        targets[want] = target
        # The patch names its target by group and kind; the version is the object's (kustomize matches it).
        patches.append({**view(doc), "apiVersion": target["apiVersion"], "kind": target["kind"]})
    merged = merge(list(targets.values()), patches)
    result: list[Located] = []
    for key, (obj, source, number) in zip(keys, objects, strict=True):
        if key not in targets:
            result.append((obj, source, number))
        elif (patched := merged[key]) is not None:
            result.append((patched, source, number))
    return result


def patch_target(raw: Any, where: str) -> patching.Target:
    if not isinstance(raw, dict) or not raw:
        raise patching.PatchError(f"{where}: `target` must be a mapping (group, version, kind, name, ...)")
    known = {"group", "version", "kind", "name", "namespace", "labelSelector"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise patching.PatchError(f"{where}: unknown target field {unknown[0]!r}")
    fields = {k: (None if raw.get(k) is None else str(raw.get(k))) for k in known}
    return patching.Target(
        group=fields["group"],
        version=fields["version"],
        kind=fields["kind"],
        name=fields["name"],
        namespace=fields["namespace"],
        label_selector=fields["labelSelector"],
    )
