"""The prune safety policy and prune order: pure rules, decided before any delete is sent."""

from __future__ import annotations

import pytest

from fleet.engine.prune import prune_order, prune_refusal
from fleet.model.inventory import Entry
from fleet.model.objects import ObjectKey


@pytest.mark.parametrize(
    ("stale", "managed", "desired", "refused"),
    [
        (0, 10, 10, False),  # nothing to prune
        (1, 10, 9, False),
        (5, 10, 5, False),  # exactly half: allowed at the default 50%
        (6, 10, 4, True),  # more than half
        (1, 1, 0, True),  # a commit that empties the cluster
        (1, 2, 1, False),  # one object may always go
        (2, 2, 0, True),
        (3, 4, 1, True),
    ],
)
def test_the_prune_ratio_limit(stale: int, managed: int, desired: int, refused: bool) -> None:
    reason = prune_refusal(stale=stale, managed=managed, desired=desired, max_ratio=0.5)
    assert (reason is not None) == refused
    if reason:
        assert f"it would delete {stale} of {managed} objects" in reason
        assert "--force-prune" in reason


def test_the_limit_is_the_configured_ratio() -> None:
    assert prune_refusal(stale=3, managed=10, desired=7, max_ratio=0.2) is not None
    assert prune_refusal(stale=3, managed=10, desired=7, max_ratio=0.3) is None
    assert "limit 20%" in (prune_refusal(stale=3, managed=10, desired=7, max_ratio=0.2) or "")


def test_prune_runs_the_apply_order_backwards_with_namespaces_last() -> None:
    def entry(group: str, kind: str, name: str, api_version: str) -> Entry:
        namespace = "" if kind in ("Namespace", "CustomResourceDefinition") else "a"
        return Entry(ObjectKey(group, kind, namespace, name), api_version)

    crd = entry("apiextensions.k8s.io", "CustomResourceDefinition", "widgets.example.com", "apiextensions.k8s.io/v1")
    namespace = entry("", "Namespace", "a", "v1")
    widget = entry("example.com", "Widget", "w", "example.com/v1")
    deployment = entry("apps", "Deployment", "web", "apps/v1")
    config = entry("", "ConfigMap", "settings", "v1")
    ordered = sorted([namespace, crd, config, deployment, widget], key=prune_order)
    assert ordered[-1] == namespace
    assert ordered.index(widget) < ordered.index(crd)  # custom resources before their definition
    assert ordered.index(deployment) < ordered.index(config)  # workloads before what they mount
