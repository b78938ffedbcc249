from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from fleet.model.compare import FieldDiff, differs, field_diffs, normalise
from fleet.model.health import Code, Health, assess, worst

FIXTURES = list(yaml.safe_load_all((Path(__file__).parent / "fixtures" / "health.yaml").read_text()))


@pytest.mark.parametrize("doc", FIXTURES, ids=[f"{d['kind']}-{i}" for i, d in enumerate(FIXTURES)])
def test_health_fixture(doc: dict[str, Any]) -> None:
    expect = doc.pop("expect")
    assert assess(doc).to_dict() == expect


def test_every_kind_of_the_table_has_a_fixture() -> None:
    from fleet.model.health import RULES

    covered = {(d["apiVersion"].rpartition("/")[0], d["kind"]) for d in FIXTURES}
    assert set(RULES) <= covered


def test_missing_and_worst() -> None:
    assert assess(None).code is Code.MISSING
    healths = [Health(Code.HEALTHY), Health(Code.DEGRADED, "bad"), Health(Code.PROGRESSING, "slow")]
    assert worst(healths) == Health(Code.DEGRADED, "bad")
    assert worst([]).code is Code.HEALTHY


def test_malformed_status_is_unknown_not_an_exception() -> None:
    obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"generation": 1},
        "spec": {"replicas": "x"},
        "status": {"observedGeneration": 1},
    }
    assert assess(obj).code is Code.UNKNOWN


LIVE = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {
        "name": "web",
        "resourceVersion": "42",
        "uid": "u",
        "generation": 3,
        "creationTimestamp": "2026-01-01T00:00:00Z",
        "managedFields": [{"manager": "fleet"}],
        "annotations": {"deployment.kubernetes.io/revision": "3", "fleet.dev/source-revision": "abc"},
    },
    "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "a", "image": "a:1"}]}}},
    "status": {"replicas": 2},
}


def test_server_bookkeeping_is_not_a_difference() -> None:
    desired = normalise(LIVE)
    assert desired is not None
    desired["metadata"]["annotations"] = {"fleet.dev/source-revision": "def"}  # a later commit, same object
    assert not differs(desired, LIVE)


def test_field_diffs_match_named_list_items() -> None:
    desired = copy.deepcopy(normalise(LIVE))  # normalise is shallow: never edit its result
    assert desired is not None
    desired["spec"]["replicas"] = 3
    desired["spec"]["template"]["spec"]["containers"] = [
        {"name": "sidecar", "image": "s:1"},
        {"name": "a", "image": "a:2"},
    ]
    assert field_diffs(desired, normalise(LIVE)) == [
        FieldDiff("spec.replicas", 3, 2),
        FieldDiff("spec.template.spec.containers[name=sidecar]", {"name": "sidecar", "image": "s:1"}, None),
        FieldDiff("spec.template.spec.containers[name=a].image", "a:2", "a:1"),
    ]
