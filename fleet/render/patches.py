"""Patches an env applies to rendered objects.

RFC 6902 JSON patches: ``{target: {group, version, kind, name, namespace, labelSelector}, patch: [ops]}``
applied to every object the target selects, by python-json-patch. Strategic-merge patches (a partial
manifest naming its target) are kustomize's: strategic.py.

A patch that selects no object is an error: it is almost always a typo that would silently do nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jsonpatch
import jsonpointer

from fleet.model.objects import split_api_version
from fleet.selector import parse_selector


class PatchError(Exception):
    """A patch that cannot apply; the caller adds the file and cluster."""


@dataclass(frozen=True)
class Target:
    group: str | None = None
    version: str | None = None
    kind: str | None = None
    name: str | None = None
    namespace: str | None = None
    label_selector: str | None = None

    def matches(self, obj: dict[str, Any]) -> bool:
        group, version = split_api_version(str(obj.get("apiVersion", "")))
        meta = obj.get("metadata") or {}
        checks = (
            (self.group, group),
            (self.version, version),
            (self.kind, obj.get("kind")),
            (self.name, meta.get("name")),
            (self.namespace, meta.get("namespace") or ""),
        )
        if any(want is not None and want != have for want, have in checks):
            return False
        if self.label_selector:
            return parse_selector(self.label_selector).matches(meta.get("labels") or {})
        return True


# ---- RFC 6902 -------------------------------------------------------------------------------------


def json_patch(obj: dict[str, Any], operations: list[Any]) -> dict[str, Any]:
    """``operations`` applied to a copy of ``obj`` with python-json-patch (RFC 6902, kept upstream); each
    operation in turn, so that an error names the operation that failed."""
    doc: Any = obj
    for number, op in enumerate(operations):
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise PatchError(f"operation {number}: needs `op` and `path`")
        try:
            doc = jsonpatch.JsonPatch([op]).apply(doc)
        except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
            raise PatchError(f"operation {number} ({op['op']} {op['path']}): {exc}") from None
        except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:  # malformed operations
            raise PatchError(f"operation {number} ({op['op']} {op['path']}): invalid ({exc})") from None
    if not isinstance(doc, dict):
        raise PatchError("the patched object is no longer a mapping")
    return doc
