"""Applying one file of ``overlays/<env>/patches/``: each document is a strategic-merge patch (an object
naming its target by identity) or an RFC 6902 patch with a ``target`` (group, version, kind, name,
namespace, labelSelector); a patch that matches no object is an error, never silently ignored."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fleet.errors import RenderError
from fleet.model.objects import ObjectKey
from fleet.render import patches as patching
from fleet.render.objects import check_object, with_namespace


def apply_patch_file(
    objects: list[tuple[dict[str, Any], str, int]],
    docs: list[dict[str, Any]],
    path: str,
    cluster: str,
    namespace: str,
    crd_scopes: Mapping[tuple[str, str], str],
) -> list[tuple[dict[str, Any], str, int]]:
    for number, doc in enumerate(docs, start=1):
        where = f"patch {number}"
        try:
            if "patch" in doc and "kind" not in doc:
                target = patch_target(doc.get("target"), where)
                ops = doc["patch"]
                if not isinstance(ops, list):
                    raise patching.PatchError(f"{where}: `patch` must be a list of operations")
                hits = 0
                for index, (obj, source, doc_number) in enumerate(objects):
                    if target.matches(with_namespace(obj, namespace, crd_scopes)):
                        objects[index] = (patching.json_patch(obj, ops), source, doc_number)
                        hits += 1
                if not hits:
                    raise patching.PatchError(f"{where}: target {target} matches no object")
            else:
                check_object(doc, path, 0, cluster)
                want = ObjectKey.of(with_namespace(doc, namespace, crd_scopes))
                hits = 0
                for index, (obj, source, doc_number) in enumerate(objects):
                    if ObjectKey.of(with_namespace(obj, namespace, crd_scopes)) == want:
                        merged = patching.strategic_merge(obj, doc)
                        merged["apiVersion"], merged["kind"] = obj["apiVersion"], obj["kind"]
                        objects[index] = (merged, source, doc_number)
                        hits += 1
                if not hits:
                    raise patching.PatchError(f"{where}: {want} matches no object")
        except patching.PatchError as exc:
            raise RenderError(str(exc), path=path, cluster=cluster) from None
    return objects


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
