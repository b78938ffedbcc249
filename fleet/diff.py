"""Comparison of live objects with what fleet wants (pure).

The desired side is always a server-side-apply dry run of the rendered object, never the rendered YAML:
the dry run carries the server's defaults, so defaults never show as differences. What is left to drop is
bookkeeping the server changes on its own.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from fleet.render.engine import REVISION_ANNOTATION

NOISE_METADATA = ("resourceVersion", "uid", "generation", "creationTimestamp", "managedFields", "selfLink")
NOISE_ANNOTATIONS = (
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
    # The revision an object last changed in: a commit that leaves an object as it was must not rewrite it.
    REVISION_ANNOTATION,
)


def normalise(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    """``obj`` without status and server bookkeeping. Shallow: only the top level, metadata and annotations
    are copied (the rest is shared with ``obj``, so callers must not modify the result)."""
    if obj is None:
        return None
    result = {k: v for k, v in obj.items() if k != "status"}
    meta = {k: v for k, v in (result.get("metadata") or {}).items() if k not in NOISE_METADATA}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in NOISE_ANNOTATIONS}
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    if "metadata" in result:
        result["metadata"] = meta
    return result


def differs(desired: dict[str, Any] | None, live: dict[str, Any] | None) -> bool:
    return normalise(desired) != normalise(live)


@dataclass(frozen=True)
class FieldDiff:
    path: str  # spec.template.spec.containers[name=shop].image
    desired: Any  # None when the field is absent on that side
    live: Any


def _list_key(items: list[Any]) -> str | None:
    if items and all(isinstance(i, dict) and "name" in i for i in items):
        return "name"
    return None


def field_diffs(desired: Any, live: Any, path: str = "") -> list[FieldDiff]:
    """Leaf-level differences between two normalised objects; lists of named items are matched by name."""
    if isinstance(desired, dict) and isinstance(live, dict):
        diffs: list[FieldDiff] = []
        for key in sorted(set(desired) | set(live), key=str):
            child = f"{path}.{key}" if path else str(key)
            if key not in live:
                diffs.append(FieldDiff(child, desired[key], None))
            elif key not in desired:
                diffs.append(FieldDiff(child, None, live[key]))
            else:
                diffs += field_diffs(desired[key], live[key], child)
        return diffs
    if isinstance(desired, list) and isinstance(live, list) and _list_key(desired) and _list_key(live):
        by_name_live = {i["name"]: i for i in live}
        by_name_desired = {i["name"]: i for i in desired}
        diffs = []
        for name in list(by_name_desired) + [n for n in by_name_live if n not in by_name_desired]:
            child = f"{path}[name={name}]"
            diffs += field_diffs(by_name_desired.get(name), by_name_live.get(name), child)
        return diffs
    if isinstance(desired, list) and isinstance(live, list) and len(desired) == len(live):
        return [
            d for i, (a, b) in enumerate(zip(desired, live, strict=True)) for d in field_diffs(a, b, f"{path}[{i}]")
        ]
    return [] if desired == live else [FieldDiff(path, desired, live)]


def specified_diffs(desired: Any, live: Any, path: str = "") -> list[FieldDiff]:
    """Differences in the fields ``desired`` specifies only (fields only the live object has are ignored).

    The fallback when no server-side dry run is possible (the server rejects the merged object): less
    exact than a dry run, since server defaults of unspecified fields cannot show up here anyway."""
    if isinstance(desired, dict) and isinstance(live, dict):
        diffs: list[FieldDiff] = []
        for key in sorted(desired, key=str):
            child = f"{path}.{key}" if path else str(key)
            diffs += (
                specified_diffs(desired[key], live.get(key), child)
                if key in live
                else [FieldDiff(child, desired[key], None)]
            )
        return diffs
    if isinstance(desired, list) and isinstance(live, list) and _list_key(desired) and _list_key(live):
        by_name_live = {i["name"]: i for i in live}
        diffs = []
        for item in desired:
            child = f"{path}[name={item['name']}]"
            diffs += (
                specified_diffs(item, by_name_live[item["name"]], child)
                if item["name"] in by_name_live
                else [FieldDiff(child, item, None)]
            )
        return diffs
    return [] if desired == live else [FieldDiff(path, desired, live)]


def leaf_paths(value: Any, path: str = "") -> list[str]:
    """The paths of ``value``'s leaves in FieldDiff notation; named list items are addressed by name, other
    lists count as one leaf."""
    if isinstance(value, dict) and value:
        return [p for key in value for p in leaf_paths(value[key], f"{path}.{key}" if path else str(key))]
    if isinstance(value, list) and value and _list_key(value):
        return [p for item in value for p in leaf_paths(item, f"{path}[name={item['name']}]")]
    return [path] if path else []


_TOKEN = re.compile(r"([^.\[]+)|\[name=([^\]]+)\]|\[(\d+)\]")


def field_tokens(path: str) -> list[str] | None:
    """``spec.containers[name=web].image`` -> managedFields (fieldsV1) keys; None when a list index
    cannot be mapped."""
    tokens = []
    for key, name, index in _TOKEN.findall(path):
        if key:
            tokens.append(f"f:{key}")
        elif name:
            tokens.append("k:" + json.dumps({"name": name}, separators=(",", ":")))
        elif index:
            return None
    return tokens


def owns(fields: Any, tokens: list[str]) -> bool:
    node = fields
    for token in tokens:
        if not isinstance(node, dict) or token not in node:
            return False
        node = node[token]
    return True


def foreign_owned(live: dict[str, Any], paths: list[str], *, manager: str = "fleet") -> bool:
    """Whether a field manager other than ``manager`` owns any of ``paths`` (status writers excluded)."""
    entries = [
        e
        for e in (live.get("metadata") or {}).get("managedFields") or []
        if e.get("manager") != manager and e.get("subresource") != "status"
    ]
    if not entries:
        return False
    for path in paths:
        tokens = field_tokens(path)
        if tokens is None:
            return True  # cannot tell: let the dry run decide
        if any(owns(e.get("fieldsV1") or {}, tokens) for e in entries):
            return True
    return False
