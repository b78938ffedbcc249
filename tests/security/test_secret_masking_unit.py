"""The masking rules on their own: which keys changed is kept, values never are."""

from __future__ import annotations

import json

from fleet.model.compare import FieldDiff, field_diffs
from fleet.model.masking import HIDDEN, mask_diffs, mask_pair
from fleet.model.objects import ObjectKey

SECRET = ObjectKey("", "Secret", "ns", "creds")
CONFIGMAP = ObjectKey("", "ConfigMap", "ns", "settings")


def obj(data: dict[str, str], string_data: dict[str, str] | None = None) -> dict:
    result = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"}, "data": data}
    if string_data is not None:
        result["stringData"] = string_data
    return result


def test_changed_added_and_removed_keys_show_without_values() -> None:
    desired = obj({"same": "c2FtZQ==", "changed": "bmV3", "added": "YWRk"})
    live = obj({"same": "c2FtZQ==", "changed": "b2xk", "removed": "Z29uZQ=="})
    diffs = mask_diffs(SECRET, tuple(field_diffs(desired, live)))
    shown = {d.path: (d.desired, d.live) for d in diffs}
    assert shown == {
        "data.added": (HIDDEN, None),
        "data.changed": (HIDDEN, HIDDEN),
        "data.removed": (None, HIDDEN),
    }
    text = json.dumps([d.__dict__ for d in diffs])
    for value in ("c2FtZQ==", "bmV3", "YWRk", "b2xk", "Z29uZQ==", "new", "old"):
        assert value not in text


def test_a_whole_data_map_keeps_its_keys_only() -> None:
    diffs = mask_diffs(SECRET, (FieldDiff("data", {"a": "eA==", "b": "eQ=="}, None),))
    assert diffs[0].desired == {"a": HIDDEN, "b": HIDDEN}


def test_pairs_mark_differing_values_so_a_text_diff_still_shows_them() -> None:
    desired, live = mask_pair(SECRET, obj({"a": "eA==", "b": "eQ=="}), obj({"a": "eA==", "b": "eg=="}))
    assert desired["data"]["a"] == live["data"]["a"] == HIDDEN
    assert desired["data"]["b"] != live["data"]["b"]
    assert "eQ==" not in json.dumps(desired) and "eg==" not in json.dumps(live)


def test_string_data_is_masked_and_compared_with_data() -> None:
    desired, live = mask_pair(SECRET, obj({}, {"token": "plain"}), obj({"token": "cGxhaW4="}))
    assert "plain" not in json.dumps(desired) and "cGxhaW4=" not in json.dumps(live)


def test_other_kinds_are_untouched() -> None:
    diffs = (FieldDiff("data.color", "blue", "red"),)
    assert mask_diffs(CONFIGMAP, diffs) == diffs
    pair = ({"data": {"a": "1"}}, {"data": {"a": "2"}})
    assert mask_pair(CONFIGMAP, *pair) == pair
