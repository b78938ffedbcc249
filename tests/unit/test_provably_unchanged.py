"""``provably_unchanged``: the one shortcut that skips the server's dry run. It may say "unchanged" only
when applying cannot change anything; every doubt must go to the server (a wrong "unchanged" would hide
drift forever)."""

from __future__ import annotations

import copy
from typing import Any

from fleet.model.compare import digest, provably_unchanged
from fleet.model.vocabulary import REVISION_ANNOTATION

DESIRED: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
    "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "web", "image": "shop:1"}]}}},
}


def _fleet_entry(fields: dict[str, Any], manager: str = "fleet", **extra: Any) -> dict[str, Any]:
    return {"manager": manager, "operation": "Apply", "fieldsType": "FieldsV1", "fieldsV1": fields, **extra}


FLEET_FIELDS = {
    "f:metadata": {"f:labels": {"f:app": {}}},
    "f:spec": {
        "f:replicas": {},
        "f:template": {"f:spec": {"f:containers": {'k:{"name":"web"}': {".": {}, "f:image": {}, "f:name": {}}}}},
    },
}


def _live(**changes: Any) -> dict[str, Any]:
    """What the server holds after fleet applied DESIRED: its defaults and bookkeeping added."""
    live = copy.deepcopy(DESIRED)
    live["metadata"].update(uid="u-1", resourceVersion="42", generation=1, managedFields=[_fleet_entry(FLEET_FIELDS)])
    live["spec"]["strategy"] = {"type": "RollingUpdate"}  # a server default: not Git's field
    live["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "IfNotPresent"
    live["status"] = {"replicas": 2}
    for path, value in changes.items():
        node = live
        *parents, leaf = path.split(".")
        for part in parents:
            node = node[part]
        node[leaf] = value
    return live


def test_applied_unchanged_and_owned_by_fleet_alone_needs_no_request() -> None:
    assert provably_unchanged(digest(DESIRED), DESIRED, _live())


def test_never_applied_or_adopted_goes_to_the_server() -> None:
    assert not provably_unchanged(None, DESIRED, _live())


def test_a_changed_commit_goes_to_the_server() -> None:
    changed = copy.deepcopy(DESIRED)
    changed["spec"]["replicas"] = 3
    assert not provably_unchanged(digest(DESIRED), changed, _live())


def test_a_field_changed_live_goes_to_the_server() -> None:
    live = _live()
    live["spec"]["template"]["spec"]["containers"][0]["image"] = "shop:evil"
    assert not provably_unchanged(digest(DESIRED), DESIRED, live)


def test_a_field_of_git_removed_live_goes_to_the_server() -> None:
    live = _live()
    del live["metadata"]["labels"]["app"]
    assert not provably_unchanged(digest(DESIRED), DESIRED, live)


def test_another_manager_owning_a_field_of_git_goes_to_the_server() -> None:
    # kubectl scaled to the same value: equal today, but the next commit would conflict with it.
    live = _live()
    live["metadata"]["managedFields"].append(_fleet_entry({"f:spec": {"f:replicas": {}}}, manager="kubectl-scale"))
    assert not provably_unchanged(digest(DESIRED), DESIRED, live)


def test_status_writers_and_fields_outside_git_do_not_count() -> None:
    live = _live()
    live["metadata"]["managedFields"] += [
        _fleet_entry({"f:status": {"f:replicas": {}}}, manager="kube-controller-manager", subresource="status"),
        _fleet_entry({"f:metadata": {"f:annotations": {"f:note": {}}}}, manager="kubectl-annotate"),
    ]
    live["metadata"]["annotations"] = {"note": "on call: ana"}
    assert provably_unchanged(digest(DESIRED), DESIRED, live)


def test_the_digest_ignores_the_revision_annotation_and_status() -> None:
    # A commit elsewhere in the repository re-renders every object with a new revision annotation: that
    # alone must not send every object to the server.
    annotated = copy.deepcopy(DESIRED)
    annotated["metadata"]["annotations"] = {REVISION_ANNOTATION: "b" * 40}
    annotated["status"] = {"anything": True}
    assert digest(annotated) == digest(DESIRED)
    other = copy.deepcopy(DESIRED)
    other["metadata"]["annotations"] = {"team": "shop"}
    assert digest(other) != digest(DESIRED)
