"""Secret values are never shown: not in plans, sync results, drift reports, the hub's API or logs.

What a person needs from a Secret's diff is which keys were added, changed or removed, never the value
(plain or base64). So comparisons run on the real values (a changed value is still a change), and every
value under a Secret's ``data`` or ``stringData`` is replaced before anything leaves the engine:

    data.password: (hidden) -> (hidden, changed)     a value that differs
    data.token:    (hidden) -> none                   a key removed from Git

A pure leaf module: it knows Kubernetes' Secret kind and FieldDiff paths, nothing else of fleet.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fleet.model.objects import ObjectKey

HIDDEN = "(hidden)"
HIDDEN_IN_GIT = "(hidden, Git's value)"
HIDDEN_LIVE = "(hidden, live value)"
SECRET_FIELDS = ("data", "stringData")


def is_secret(key: ObjectKey) -> bool:
    return key.group == "" and key.kind == "Secret"


def _is_secret_path(path: str) -> bool:
    head = path.split(".", 1)[0].split("[", 1)[0]
    return head in SECRET_FIELDS


def _hide(value: Any) -> Any:
    """A value with every leaf replaced: a whole ``data`` map added or removed keeps its keys."""
    if isinstance(value, dict):
        return {k: HIDDEN for k in value}
    return None if value is None else HIDDEN


def mask_value(key: ObjectKey, path: str, value: Any) -> Any:
    """``value`` at ``path`` of the object ``key``, as it may be shown."""
    return _hide(value) if is_secret(key) and _is_secret_path(path) else value


def mask_pair(key: ObjectKey, desired: Any, live: Any) -> tuple[Any, Any]:
    """Copies of two versions of an object with Secret values hidden; a key whose values differ is marked
    differently on each side, so a text diff of the pair still shows the change."""
    if not is_secret(key):
        return desired, live
    desired_data = _merged_data(desired)
    live_data = _merged_data(live)

    def masked(obj: Any, other: dict[str, Any] | None, mark: str) -> Any:
        if not isinstance(obj, dict):
            return obj
        copy = dict(obj)
        for field in SECRET_FIELDS:
            values = copy.get(field)
            if isinstance(values, dict):
                copy[field] = {
                    k: HIDDEN if other is not None and other.get(k) == v else mark for k, v in values.items()
                }
            elif values is not None:
                copy[field] = HIDDEN
        return copy

    return masked(desired, live_data, HIDDEN_IN_GIT), masked(live, desired_data, HIDDEN_LIVE)


def _merged_data(obj: Any) -> dict[str, Any] | None:
    if not isinstance(obj, dict):
        return None
    merged: dict[str, Any] = {}
    for field in SECRET_FIELDS:
        values = obj.get(field)
        if isinstance(values, dict):
            merged.update(values)
    return merged


def mask_diffs(key: ObjectKey, diffs: Any) -> Any:
    """FieldDiff-like records (``path``, ``desired``, ``live``) with Secret values hidden."""
    if not is_secret(key):
        return diffs
    return type(diffs)(
        replace(d, desired=mask_value(key, d.path, d.desired), live=mask_value(key, d.path, d.live)) for d in diffs
    )
