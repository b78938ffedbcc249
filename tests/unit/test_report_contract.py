"""The hub API's contract: a fleet report survives ``to_dict`` -> JSON -> ``from_dict`` unchanged, so
`fleet status --hub` shows exactly what the hub holds; and selection on a report chooses what the
registry would."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleet.errors import UsageError
from fleet.model.cluster import Selection
from fleet.model.drift import DriftField, DriftItem, DriftType
from fleet.model.health import Code, Health
from fleet.model.objects import ObjectKey
from fleet.model.report import ClusterReport, FleetReport, SyncState
from fleet.selector import parse_selector

names = st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True)
groups = st.sampled_from(["", "apps", "rbac.authorization.k8s.io", "cert-manager.io", "example.com"])
kinds = st.sampled_from(["ConfigMap", "Deployment", "ClusterRole", "Certificate", "Widget"])
keys = st.builds(ObjectKey, groups, kinds, st.one_of(st.just(""), names), names)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**31), 2**31), st.text(max_size=20))
stamps = st.one_of(st.none(), st.just("2026-11-28T10:00:00Z"))
fields = st.builds(
    DriftField,
    st.from_regex(r"spec\.[a-z]{1,8}(\[name=[a-z]{1,5}\])?", fullmatch=True),
    scalars,
    scalars,
    st.sampled_from(["", "kubectl-edit", "kubectl-client-side-apply", "helm (status)"]),
    st.sampled_from(["", "2026-11-28T09:59:00Z"]),
)
items = st.builds(
    DriftItem, keys, st.sampled_from(list(DriftType)), st.lists(fields, max_size=3).map(tuple), st.text(max_size=30)
)
healths = st.builds(Health, st.sampled_from(list(Code)), st.text(max_size=40))
reports = st.builds(
    ClusterReport,
    name=names,
    env=st.sampled_from(["dev", "staging", "prod"]),
    labels=st.dictionaries(st.sampled_from(["region", "wave", "tier"]), names, max_size=3),
    revision=st.from_regex(r"[0-9a-f]{40}", fullmatch=True),
    applied_revision=st.one_of(st.just(""), st.from_regex(r"[0-9a-f]{40}", fullmatch=True)),
    sync=st.sampled_from(list(SyncState)),
    health=healths,
    health_object=st.one_of(st.none(), keys),
    drift=st.lists(items, max_size=3).map(tuple),
    last_sync=stamps,
    last_sync_duration=st.one_of(st.none(), st.floats(0, 1e4, allow_nan=False)),
    error=st.one_of(st.none(), st.text(min_size=1, max_size=40)),
    error_since=stamps,
    release=st.one_of(st.just({}), st.fixed_dictionaries({"revision": names, "values": st.just({"tag": "2"})})),
)


@settings(max_examples=60)
@given(st.lists(reports, max_size=4))
def test_a_fleet_report_survives_the_api_unchanged(clusters: list[ClusterReport]) -> None:
    report = FleetReport(tuple(clusters), "2026-11-28T10:00:00Z")
    wire = json.loads(json.dumps(report.to_dict(with_items=True)))
    assert FleetReport.from_dict(wire) == report
    # what the API says of each cluster is recomputed the same way on the other side
    assert [c["why"] for c in wire["clusters"]] == [c.why() for c in FleetReport.from_dict(wire).clusters]


def test_a_report_without_items_keeps_the_counts() -> None:
    item = DriftItem(ObjectKey("apps", "Deployment", "shop", "web"), DriftType.MODIFIED)
    report = ClusterReport("dev-1", "dev", {}, "a" * 40, drift=(item,), sync=SyncState.OUT_OF_SYNC)
    assert report.to_dict()["drift"] == 1
    assert "items" not in report.to_dict()


def _fleet() -> FleetReport:
    def one(name: str, env: str, **labels: str) -> ClusterReport:
        return ClusterReport(name, env, labels, "a" * 40)

    clusters = (one("dev-1", "dev", region="eu"), one("prod-eu-1", "prod", region="eu"))
    return FleetReport((*clusters, one("prod-us-1", "prod", region="us")), "2026-11-28T10:00:00Z")


@pytest.mark.parametrize(
    ("selection", "chosen"),
    [
        (Selection(), ["dev-1", "prod-eu-1", "prod-us-1"]),
        (Selection(envs=("prod",)), ["prod-eu-1", "prod-us-1"]),
        (Selection(clusters=("dev-1",)), ["dev-1"]),
        (Selection(selector=parse_selector("region=eu")), ["dev-1", "prod-eu-1"]),
        (Selection(envs=("prod",), selector=parse_selector("region in (us)")), ["prod-us-1"]),
    ],
)
def test_selection_on_a_report_chooses_as_the_registry_does(selection: Selection, chosen: list[str]) -> None:
    assert [c.name for c in _fleet().selected(selection).clusters] == chosen


def test_selecting_an_unknown_cluster_names_the_known_ones() -> None:
    with pytest.raises(UsageError, match=r"unknown cluster 'dev-9'; known clusters: dev-1, prod-eu-1, prod-us-1"):
        _fleet().selected(Selection(clusters=("dev-9",)))
