"""Patches an env applies to rendered objects.

Two kinds, told apart by shape:

* strategic-merge style: a partial manifest (apiVersion, kind, metadata.name[, namespace]) merged into the
  object of that identity. Mappings merge; ``null`` deletes a key; lists of named items (containers, env,
  volumes, ports, ...) merge item by item on their merge key; other lists are replaced;
  ``$patch: delete`` in a list item removes the matching item, ``$patch: replace`` in a mapping replaces it.
* RFC 6902 JSON patch: ``{target: {group, version, kind, name, namespace, labelSelector}, patch: [ops]}``
  applied to every object the target selects, by python-json-patch.

A patch that selects no object is an error: it is almost always a typo that would silently do nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import jsonpatch
import jsonpointer

from fleet.model.objects import ObjectKey, split_api_version
from fleet.selector import parse_selector

# Merge keys for lists of maps, as Kubernetes' strategic merge patch declares them for the common kinds.
MERGE_KEYS: dict[str, tuple[str, ...]] = {
    "containers": ("name",),
    "initContainers": ("name",),
    "ephemeralContainers": ("name",),
    "env": ("name",),
    "volumes": ("name",),
    "volumeMounts": ("mountPath", "name"),
    "volumeDevices": ("devicePath",),
    "imagePullSecrets": ("name",),
    "ports": ("name", "containerPort", "port"),
    "tolerations": ("key",),
    "hostAliases": ("ip",),
    "topologySpreadConstraints": ("topologyKey",),
    "conditions": ("type",),
}


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


def _merge_key(field: str, items: Iterable[Any]) -> str | None:
    items = list(items)
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    for key in MERGE_KEYS.get(field, ()):
        if all(key in i for i in items if i.get("$patch") != "delete" or key in i):
            return key
    return None


def _merge_list(field: str, live: list[Any], patch: list[Any]) -> list[Any]:
    key = _merge_key(field, list(live) + list(patch))
    if key is None:
        return [copy.deepcopy(i) for i in patch if not (isinstance(i, dict) and "$patch" in i)]
    result = [copy.deepcopy(i) for i in live]
    for item in patch:
        directive = item.get("$patch")
        index = next((n for n, cur in enumerate(result) if cur.get(key) == item.get(key)), None)
        if directive == "delete":
            if index is not None:
                del result[index]
            continue
        if directive not in (None, "merge"):
            raise PatchError(f"unsupported $patch: {directive} in list {field}")
        clean = {k: v for k, v in item.items() if k != "$patch"}
        if index is None:
            result.append(strategic_merge({}, clean))
        else:
            result[index] = strategic_merge(result[index], clean)
    return result


def strategic_merge(obj: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return {}
    result = copy.deepcopy(obj)
    for key, value in patch.items():
        if key == "$patch":
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = strategic_merge(result[key], value)
        elif isinstance(value, list) and isinstance(result.get(key), list):
            result[key] = _merge_list(key, result[key], value)
        elif isinstance(value, dict):
            result[key] = strategic_merge({}, value)
        elif isinstance(value, list):
            result[key] = _merge_list(key, [], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


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


def smp_target(patch: dict[str, Any]) -> ObjectKey:
    return ObjectKey.of(patch)
