"""Comparison of live objects with what fleet wants (pure): every rule a drift scan, a plan and a sync
use to decide "same or different", in one module.

- ``normalise``/``differs``/``field_diffs``: the desired side is a server-side-apply dry run of the rendered
  object, never the rendered YAML: the dry run carries the server's defaults, so defaults never show as
  differences. What is left to drop is bookkeeping the server changes on its own.
- ``specified_diffs``: the fields Git sets only (when the server refuses the dry run).
- ``provably_unchanged``: "applying this cannot change anything", decided without a request.
- managedFields: who last changed a field, and (strict mode) labels and annotations others added.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from fleet.model.vocabulary import FIELD_MANAGER, REVISION_ANNOTATION

# Labels and annotations under kubernetes.io and k8s.io (and their subdomains: topology.kubernetes.io,
# pv.kubernetes.io, ...) are reserved for Kubernetes' own components; a few older ones have no prefix.
# Never drift, not even in strict mode.
RESERVED_DOMAINS = ("kubernetes.io", "k8s.io")
UNPREFIXED_SYSTEM_KEYS = frozenset({"deprecated.daemonset.template.generation"})
# Managers that are the object's own controllers: what they write is the object working, never drift.
CONTROL_PLANE_MANAGERS = frozenset({"kube-controller-manager", "kube-scheduler", "kubelet", "kube-apiserver"})

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
    if desired == live:  # most subtrees of an unchanged object: compared at C speed, no walk
        return []
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
    return [FieldDiff(path, desired, live)]


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


def _foreign_entries(live: dict[str, Any], manager: str) -> list[dict[str, Any]]:
    """The managedFields entries of managers other than ``manager`` (status writers excluded)."""
    return [
        e
        for e in (live.get("metadata") or {}).get("managedFields") or []
        if e.get("manager") != manager and e.get("subresource") != "status"
    ]


def foreign_owned(live: dict[str, Any], paths: list[str], *, manager: str = FIELD_MANAGER) -> bool:
    """Whether a field manager other than ``manager`` owns any of ``paths`` (status writers excluded)."""
    return _owned_by(_foreign_entries(live, manager), paths)


def _owned_by(entries: list[dict[str, Any]], paths: list[str]) -> bool:
    if not entries:
        return False
    for path in paths:
        tokens = field_tokens(path)
        if tokens is None:
            return True  # cannot tell: let the dry run decide
        if any(owns(e.get("fieldsV1") or {}, tokens) for e in entries):
            return True
    return False


def digest(obj: dict[str, Any]) -> str:
    """A short fingerprint of a desired object, without the fields that change on every commit: the
    inventory records it, so that an unchanged object needs no request on the next sync."""
    text = json.dumps(normalise(obj), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def provably_unchanged(
    applied_digest: str | None, desired: dict[str, Any], live: dict[str, Any], *, desired_digest: str | None = None
) -> bool:
    """True when applying ``desired`` cannot change ``live``, decided without a request: Git has not changed
    the object since fleet last applied it (``applied_digest``, from the inventory: None when fleet never
    applied it or adopted it), every field Git sets has the same value live, and no other field manager
    owns any of those fields. Anything else (a server that normalises a value, a field another manager
    touched) needs a server-side dry run."""
    if applied_digest is None or applied_digest != (desired_digest or digest(desired)):
        return False
    want, have = normalise(desired), normalise(live)
    if specified_diffs(want, have):
        return False
    foreign = _foreign_entries(live, FIELD_MANAGER)
    # Most live objects have no other manager: then the paths Git sets need not even be listed.
    return not foreign or not _owned_by(foreign, leaf_paths(want))


# ---- managedFields --------------------------------------------------------------------------------


def last_change(live: dict[str, Any], path: str) -> tuple[str, str]:
    """The field manager (and time) that owns ``path`` in ``live``, preferring managers other than fleet."""
    tokens = field_tokens(path)
    entries = (live.get("metadata") or {}).get("managedFields") or []
    if tokens is None:
        return "", ""
    owners = []
    # A field fleet no longer sets (absent on the desired side) may still be owned by a parent entry.
    for cut in range(len(tokens), 0, -1):
        owners = [e for e in entries if owns(e.get("fieldsV1") or {}, tokens[:cut])]
        if owners:
            break
    foreign = [e for e in owners if e.get("manager") != FIELD_MANAGER] or owners
    if not foreign:
        return "", ""
    latest = max(foreign, key=lambda e: str(e.get("time", "")))
    manager = str(latest.get("manager", ""))
    if latest.get("subresource"):
        manager += f" ({latest['subresource']})"
    return manager, str(latest.get("time", ""))


def fleet_write_time(live: dict[str, Any]) -> str:
    entries = (live.get("metadata") or {}).get("managedFields") or []
    return max((str(e.get("time", "")) for e in entries if e.get("manager") == FIELD_MANAGER), default="")


def _system_key(key: str) -> bool:
    if key in UNPREFIXED_SYSTEM_KEYS:
        return True
    domain = key.rpartition("/")[0]
    return any(domain == d or domain.endswith("." + d) for d in RESERVED_DOMAINS)


def foreign_metadata(desired: dict[str, Any], live: dict[str, Any]) -> list[tuple[str, Any]]:
    """Strict mode: labels and annotations a person or a tool (not the object's own controllers) added to
    an object fleet manages."""
    extra = []
    entries = (live.get("metadata") or {}).get("managedFields") or []
    for kind in ("labels", "annotations"):
        want = (desired.get("metadata") or {}).get(kind) or {}
        for key, value in sorted(((live.get("metadata") or {}).get(kind) or {}).items()):
            if key in want or _system_key(key):
                continue
            tokens = ["f:metadata", f"f:{kind}", f"f:{key}"]
            owners = {str(e.get("manager", "")) for e in entries if owns(e.get("fieldsV1") or {}, tokens)}
            # Owned by fleet: added by admission during fleet's own apply (a plan would show anything else).
            if owners and (FIELD_MANAGER in owners or owners <= CONTROL_PLANE_MANAGERS):
                continue
            extra.append((f"metadata.{kind}.{key}", value))
    return extra
