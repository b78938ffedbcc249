"""Patches an env applies to rendered objects.

Two kinds, told apart by shape:

* strategic-merge style: a partial manifest (apiVersion, kind, metadata.name[, namespace]) merged into the
  object of that identity. Mappings merge; ``null`` deletes a key; lists of named items (containers, env,
  volumes, ports, ...) merge item by item on their merge key; other lists are replaced;
  ``$patch: delete`` in a list item removes the matching item, ``$patch: replace`` in a mapping replaces it.
* RFC 6902 JSON patch: ``{target: {group, version, kind, name, namespace, labelSelector}, patch: [ops]}``
  applied to every object the target selects.

A patch that selects no object is an error: it is almost always a typo that would silently do nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

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


def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise PatchError(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]] if path else []


def _child(container: Any, token: str, path: str) -> Any:
    if isinstance(container, dict):
        if token not in container:
            raise PatchError(f"path {path}: no key {token!r}")
        return container[token]
    if isinstance(container, list):
        index = _index(container, token, path, allow_end=False)
        return container[index]
    raise PatchError(f"path {path}: cannot descend into a {type(container).__name__}")


def _index(container: list[Any], token: str, path: str, *, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise PatchError(f"path {path}: {token!r} is not a list index")
    index = int(token)
    if index > len(container) or (index == len(container) and not allow_end):
        raise PatchError(f"path {path}: index {index} out of range")
    return index


def _parent(doc: Any, path: str) -> tuple[Any, str]:
    tokens = _pointer(path)
    if not tokens:
        raise PatchError("the whole document cannot be a target here")
    node = doc
    for token in tokens[:-1]:
        node = _child(node, token, path)
    return node, tokens[-1]


def _get(doc: Any, path: str) -> Any:
    node = doc
    for token in _pointer(path):
        node = _child(node, token, path)
    return node


def _add(doc: Any, path: str, value: Any) -> None:
    parent, token = _parent(doc, path)
    if isinstance(parent, dict):
        parent[token] = copy.deepcopy(value)
    elif isinstance(parent, list):
        parent.insert(_index(parent, token, path, allow_end=True), copy.deepcopy(value))
    else:
        raise PatchError(f"path {path}: parent is not a mapping or list")


def _remove(doc: Any, path: str) -> Any:
    parent, token = _parent(doc, path)
    if isinstance(parent, dict):
        if token not in parent:
            raise PatchError(f"path {path}: nothing to remove")
        return parent.pop(token)
    if isinstance(parent, list):
        return parent.pop(_index(parent, token, path, allow_end=False))
    raise PatchError(f"path {path}: parent is not a mapping or list")


def json_patch(obj: dict[str, Any], operations: list[Any]) -> dict[str, Any]:
    doc = copy.deepcopy(obj)
    for number, op in enumerate(operations):
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise PatchError(f"operation {number}: needs `op` and `path`")
        kind, path = op["op"], op["path"]
        try:
            if kind == "add":
                _add(doc, path, _value(op, number))
            elif kind == "remove":
                _remove(doc, path)
            elif kind == "replace":
                _remove(doc, path)
                _add(doc, path, _value(op, number))
            elif kind in ("move", "copy"):
                source = op.get("from")
                if not isinstance(source, str):
                    raise PatchError(f"`{kind}` needs `from`, a JSON pointer")
                if kind == "move" and (path + "/").startswith(source + "/"):
                    raise PatchError(f"cannot move {source} into itself")
                value = _remove(doc, source) if kind == "move" else copy.deepcopy(_get(doc, source))
                _add(doc, path, value)
            elif kind == "test":
                if _get(doc, path) != _value(op, number):
                    raise PatchError(f"test failed at {path}")
            else:
                raise PatchError(f"unknown op {kind!r}")
        except PatchError as exc:
            raise PatchError(f"operation {number} ({kind} {path}): {exc}") from None
    if not isinstance(doc, dict):
        raise PatchError("the patched object is no longer a mapping")
    return doc


def _value(op: dict[str, Any], number: int) -> Any:
    if "value" not in op:
        raise PatchError(f"operation {number}: `{op['op']}` needs `value`")
    return op["value"]


def smp_target(patch: dict[str, Any]) -> ObjectKey:
    return ObjectKey.of(patch)
