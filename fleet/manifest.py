"""Deterministic serialisation of Kubernetes objects.

kubectl's key order (apiVersion, kind, metadata, then the rest) makes rendered output readable; every
other mapping is sorted so that the bytes depend only on the content, never on dict insertion order,
the Python version or the machine.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import yaml

TOP_KEYS = ("apiVersion", "kind", "metadata")
METADATA_KEYS = ("name", "namespace", "labels", "annotations")


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _sorted(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def _first(keys: tuple[str, ...], mapping: dict[str, Any]) -> dict[str, Any]:
    ordered = {k: _sorted(mapping[k]) for k in keys if k in mapping}
    ordered.update({str(k): _sorted(mapping[k]) for k in sorted(mapping, key=str) if k not in keys})
    return ordered


def canonical(obj: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``obj`` with kubectl's top-level key order and every other mapping sorted."""
    ordered = _first(TOP_KEYS, obj)
    if isinstance(obj.get("metadata"), dict):
        ordered["metadata"] = _first(METADATA_KEYS, obj["metadata"])
    return ordered


class _Dumper(yaml.SafeDumper):
    """Block style, lists indented under their key like kubectl, long strings unwrapped."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_presenter)


def dump_yaml(objects: Iterable[dict[str, Any]]) -> str:
    docs = [
        yaml.dump(canonical(o), Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1 << 20)
        for o in objects
    ]
    return "---\n" + "---\n".join(docs) if docs else ""


def dump_json(objects: Iterable[dict[str, Any]]) -> str:
    """A kubectl-style ``List`` of the objects, in the given order."""
    items = [canonical(o) for o in objects]
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items}, indent=2, ensure_ascii=False) + "\n"
