"""The inventory's format: what fleet stores in each cluster about what it applied. Prune reads nothing
else, so a round trip must be exact and a damaged ConfigMap must stop a sync, never be guessed at."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleet.model.inventory import Entry, Inventory, InventoryError, parse
from fleet.model.objects import ObjectKey
from fleet.model.vocabulary import CLUSTER_LABEL, INVENTORY_NAMESPACE, MANAGED_BY

names = st.from_regex(r"[a-z][a-z0-9.-]{0,30}", fullmatch=True)
api_versions = st.sampled_from(["v1", "apps/v1", "rbac.authorization.k8s.io/v1", "example.com/v1alpha1"])


@st.composite
def entries(draw: st.DrawFn) -> Entry:
    api_version = draw(api_versions)
    group = api_version.rpartition("/")[0]
    kind = draw(st.sampled_from(["ConfigMap", "Deployment", "Role", "Widget"]))
    key = ObjectKey(group, kind, draw(names), draw(names))
    return Entry(key, api_version, draw(st.from_regex(r"[0-9a-f]{16}", fullmatch=True)), draw(st.booleans()))


inventories = st.builds(
    lambda es, revision, release: Inventory({e.key: e for e in es}, revision, release),
    st.lists(entries(), max_size=20),
    st.one_of(st.just(""), st.from_regex(r"[0-9a-f]{40}", fullmatch=True)),
    st.one_of(st.just({}), st.fixed_dictionaries({"revision": names, "values": st.just({"tag": "1.2"})})),
)


@settings(max_examples=80)
@given(inventories)
def test_an_inventory_survives_its_configmap(inventory: Inventory) -> None:
    configmap = json.loads(json.dumps(inventory.to_configmap("dev-1", "inv-a")))
    again = parse(configmap, "inv-a")
    assert again.same_as(inventory)
    assert again.entries == inventory.entries


def test_the_configmap_is_labelled_for_its_cluster_and_holds_no_manifest() -> None:
    key = ObjectKey("apps", "Deployment", "shop", "web")
    inventory = Inventory({key: Entry(key, "apps/v1", "0123456789abcdef")}, "a" * 40)
    configmap = inventory.to_configmap("dev-1")
    assert configmap["metadata"]["namespace"] == INVENTORY_NAMESPACE
    assert configmap["metadata"]["labels"] == {MANAGED_BY: "fleet", CLUSTER_LABEL: "dev-1"}
    assert json.loads(configmap["data"]["entries"]) == [
        {"v": "apps/v1", "k": "Deployment", "ns": "shop", "n": "web", "d": "0123456789abcdef"}
    ]


def test_no_configmap_is_an_empty_inventory() -> None:
    assert parse(None).same_as(Inventory.empty())


@pytest.mark.parametrize(
    "data",
    [
        {"entries": "not json"},
        {"entries": '[{"k": "ConfigMap", "n": "a"}]'},  # no apiVersion
        {"entries": '[{"v": "v1", "n": "a"}]'},  # no kind
        {"entries": '{"v": "v1"}'},  # not a list
        {"entries": "[]", "release": "{broken"},
    ],
)
def test_a_damaged_inventory_stops_instead_of_guessing(data: dict[str, str]) -> None:
    with pytest.raises(InventoryError, match=r"fleet-system/inv-a is unreadable .*fix or delete it"):
        parse({"data": data}, "inv-a")


def test_union_keeps_an_adopted_object_adopted_and_records_new_digests() -> None:
    key = ObjectKey("", "ConfigMap", "shop", "settings")
    old = Inventory({key: Entry(key, "v1", "aaaa", adopted=True)}, "r1", {"revision": "r1"})
    grown = old.union([Entry(key, "v1", "bbbb")])
    assert grown.entries[key] == Entry(key, "v1", "bbbb", adopted=True)
    assert (grown.revision, dict(grown.release)) == ("r1", {"revision": "r1"})


def test_an_adopted_object_is_never_vouched_for_by_its_digest() -> None:
    adopted, applied = ObjectKey("", "ConfigMap", "a", "x"), ObjectKey("", "ConfigMap", "a", "y")
    inventory = Inventory({adopted: Entry(adopted, "v1", "aaaa", True), applied: Entry(applied, "v1", "bbbb")})
    assert inventory.applied_digest(adopted) is None
    assert inventory.applied_digest(applied) == "bbbb"
    assert inventory.applied_digest(ObjectKey("", "ConfigMap", "a", "z")) is None


def test_same_as_compares_revision_release_and_entries() -> None:
    key = ObjectKey("", "ConfigMap", "a", "x")
    base = Inventory({key: Entry(key, "v1", "aaaa")}, "r1", {"revision": "r1"})
    assert base.same_as(Inventory(dict(base.entries), "r1", {"revision": "r1"}))
    assert not base.same_as(base.with_revision("r2"))
    assert not base.same_as(base.with_revision("r1", {"revision": "r0"}))
    assert not base.same_as(Inventory({}, "r1", {"revision": "r1"}))
