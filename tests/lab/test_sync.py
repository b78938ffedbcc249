"""fleet sync against real apiservers: apply, no-op syncs, changes, prune, safety switch, faults."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from click.testing import CliRunner
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from fleet.cli import cli as cli_main
from fleet.engine.sync import SyncOptions
from fleet.kube.api import ApiLimits
from fleet.model.changeset import Action
from fleet.model.cluster import Selection
from fleet.model.health import Code
from fleet.model.objects import ObjectKey
from fleet.workflows.syncing import FleetLimits, sync_fleet
from tests.support.lab import wait_for
from tests.support.labrepo import FleetRepo


def actions(cs) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {f"{c.key.kind}/{c.key.name}": c.action.value for c in cs.changes}


@pytest.fixture
def fleet(dev_and_staging: FleetRepo) -> FleetRepo:
    return dev_and_staging


async def test_first_sync_creates_then_a_second_sync_sends_zero_writes(fleet: FleetRepo) -> None:
    first = await fleet.sync(wait=True, wait_timeout=60)
    for cs in first.values():
        assert cs.error is None
        assert set(actions(cs).values()) == {"created"}, actions(cs)
        assert cs.health.code is Code.HEALTHY, cs.health
    async with fleet.lab.api("dev-1") as api:
        dep = await client.AppsV1Api(api).read_namespaced_deployment("web", fleet.namespace)
        assert dep.metadata.labels["fleet.dev/cluster"] == "dev-1"
        assert [m.manager for m in dep.metadata.managed_fields if m.operation == "Apply"] == ["fleet"]
    second = await fleet.sync()
    for cs in second.values():
        assert set(actions(cs).values()) == {"unchanged"}
        assert cs.writes == 0


async def test_a_commit_configures_only_what_changed_and_prunes_what_left(fleet: FleetRepo) -> None:
    await fleet.sync()
    fleet.commit({"overlays/dev/values.yaml": "color: green\n"})
    result = await fleet.sync()
    assert actions(result["dev-1"])["ConfigMap/settings"] == "configured"
    assert [a for a in actions(result["dev-1"]).values() if a != "unchanged"] == ["configured"]
    assert set(actions(result["staging-1"]).values()) == {"unchanged"}
    # Only the inventory's record of the applied revision is written; no object is.
    assert result["staging-1"].writes == 1

    app_without_service = (
        (fleet.root / "overlays/base/app.yaml").read_text().split("---\napiVersion: v1\nkind: Service")[0]
    )
    fleet.commit({"overlays/base/app.yaml": app_without_service})
    result = await fleet.sync()
    assert actions(result["dev-1"])["Service/web"] == "deleted"
    async with fleet.lab.api("dev-1") as api:
        with pytest.raises(ApiException) as info:
            await client.CoreV1Api(api).read_namespaced_service("web", fleet.namespace)
        assert info.value.status == 404
    again = await fleet.sync()
    assert "Service/web" not in actions(again["dev-1"])  # inventory advanced: no second delete
    assert again["dev-1"].writes == 0


async def test_prune_never_touches_objects_fleet_did_not_create(fleet: FleetRepo) -> None:
    await fleet.sync()
    async with fleet.lab.api("dev-1") as api:
        core = client.CoreV1Api(api)
        await core.create_namespaced_config_map(fleet.namespace, {"metadata": {"name": "hand-made"}})
        # Adopted: a ConfigMap that existed before fleet was told about it.
        await core.create_namespaced_config_map(fleet.namespace, {"metadata": {"name": "pre-existing"}})
    extra = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: pre-existing\ndata: {a: b}\n"
    fleet.commit({"overlays/dev/extra.yaml": extra})
    result = await fleet.sync()
    adopted = next(c for c in result["dev-1"].changes if c.key.name == "pre-existing")
    assert adopted.action is Action.CONFIGURED and "adopted" in adopted.message
    fleet.commit({"overlays/dev/extra.yaml": None})
    result = await fleet.sync()
    assert actions(result["dev-1"])["ConfigMap/pre-existing"] == "skipped"
    async with fleet.lab.api("dev-1") as api:
        core = client.CoreV1Api(api)
        await core.read_namespaced_config_map("hand-made", fleet.namespace)
        await core.read_namespaced_config_map("pre-existing", fleet.namespace)


async def test_mass_prune_is_refused_unless_forced(fleet: FleetRepo) -> None:
    await fleet.sync()
    applied = fleet.repo.head.commit.hexsha
    emptied = fleet.commit({"overlays/base/app.yaml": "# emptied by mistake\n"})
    result = await fleet.sync()
    dev = result["dev-1"]
    assert {c.action for c in dev.changes if c.key.kind != "Namespace"} == {Action.SKIPPED}
    assert "prune refused: it would delete 3 of 4" in next(c.message for c in dev.changes if c.action is Action.SKIPPED)
    assert not dev.matches_git and "prune refused" in (dev.pending or "")
    async with fleet.lab.api("dev-1") as api:
        await client.AppsV1Api(api).read_namespaced_deployment("web", fleet.namespace)
    # The CLI: non-zero, one line per cluster (not one per object), and the revision is not recorded as
    # applied, so status and promotion gates see the cluster as not matching Git.
    cli = await asyncio.to_thread(
        CliRunner().invoke, cli_main, ["sync", "--repo", str(fleet.root)], env=fleet.cli_env()
    )
    assert cli.exit_code == 1, cli.output
    assert "2 of 2 clusters do not match Git" in cli.stderr
    for cluster in ("dev-1", "staging-1"):
        lines = [line for line in cli.stdout.splitlines() if line.startswith(f"{cluster}:") and "prune" in line]
        assert len(lines) == 1 and "does not match Git: prune refused" in lines[0], cli.stdout
    status = await asyncio.to_thread(
        CliRunner().invoke, cli_main, ["status", "--repo", str(fleet.root), "-o", "json"], env=fleet.cli_env()
    )
    reports = {c["name"]: c for c in json.loads(status.stdout)["clusters"]}
    assert reports["dev-1"]["appliedRevision"] == applied != emptied
    assert reports["dev-1"]["sync"] == "OutOfSync"
    forced = await fleet.sync(force_prune=True)
    assert actions(forced["dev-1"])["Deployment/web"] == "deleted"
    assert forced["dev-1"].matches_git


async def test_invalid_object_fails_alone_and_postpones_prune(fleet: FleetRepo) -> None:
    await fleet.sync()
    bad = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Not_Valid\n"
    app = (fleet.root / "overlays/base/app.yaml").read_text()
    red_without_service = app.replace("color: {{ values.color }}", "color: red").split(
        "---\napiVersion: v1\nkind: Service"
    )[0]
    fleet.commit({"overlays/dev/bad.yaml": bad, "overlays/base/app.yaml": red_without_service})
    result = await fleet.sync()
    dev = result["dev-1"]
    failed = next(c for c in dev.changes if c.action is Action.FAILED)
    assert failed.key == ObjectKey("", "ConfigMap", fleet.namespace, "Not_Valid")
    assert "Invalid" in failed.message and dev.failed
    assert actions(dev)["ConfigMap/settings"] == "configured"  # the rest was applied
    postponed = next(c for c in dev.changes if c.key.kind == "Service")
    assert postponed.action is Action.SKIPPED and "prune postponed" in postponed.message
    # staging has no bad object: it applies and prunes normally.
    assert not result["staging-1"].failed
    assert actions(result["staging-1"])["Service/web"] == "deleted"


async def test_unreachable_cluster_is_reported_and_others_sync(fleet: FleetRepo) -> None:
    workspace = fleet.workspace()
    rendered = [workspace.render(c) for c in workspace.select(Selection())]
    limits = FleetLimits(api=ApiLimits(timeout=3.0), cluster_timeout=30)
    fleet.lab.lab.pause_apiserver("staging-1")  # SIGSTOP: the port accepts, nothing answers
    try:
        started = time.monotonic()
        results = {
            cs.cluster: cs
            for cs in await sync_fleet(rendered, fleet.config, SyncOptions(inventory=fleet.inventory), limits=limits)
        }
        elapsed = time.monotonic() - started
    finally:
        fleet.lab.lab.resume_apiserver("staging-1")
    assert results["dev-1"].error is None and not results["dev-1"].failed
    assert "no answer within 3s" in str(results["staging-1"].error)
    assert results["staging-1"].health.code is Code.UNKNOWN
    assert elapsed < 30

    async def recovered() -> bool:
        again = await fleet.sync()
        return again["staging-1"].error is None

    await wait_for(recovered, timeout=60, what="staging-1 syncing again after resume")


async def test_plan_of_a_branch_lists_exactly_what_the_branch_changes(fleet: FleetRepo) -> None:
    await fleet.sync()
    main = fleet.repo.active_branch
    branch = fleet.repo.create_head("more-replicas")
    branch.checkout()
    fleet.commit({"overlays/staging/values.yaml": "replicas: 2\n"})
    main.checkout()
    workspace = fleet.workspace("more-replicas")
    rendered = [workspace.render(c) for c in workspace.select(Selection())]
    plans = {
        cs.cluster: cs
        for cs in await sync_fleet(rendered, fleet.config, SyncOptions(dry_run=True, inventory=fleet.inventory))
    }
    staging = [c for c in plans["staging-1"].changes if c.action is not Action.UNCHANGED]
    assert [(c.key.kind, c.action) for c in staging] == [("Deployment", Action.CONFIGURED)]
    assert [(d.path, d.live, d.desired) for d in staging[0].diff] == [("spec.replicas", 1, 2)]
    assert {c.action for c in plans["dev-1"].changes} == {Action.UNCHANGED}
    assert all(cs.writes == 0 for cs in plans.values())
    async with fleet.lab.api("staging-1") as api:
        dep = await client.AppsV1Api(api).read_namespaced_deployment("web", fleet.namespace)
        assert dep.spec.replicas == 1  # nothing was applied


async def test_conflicting_field_manager_is_reported_and_force_takes_over(fleet: FleetRepo) -> None:
    await fleet.sync()
    async with fleet.lab.api("dev-1") as api:
        await client.AppsV1Api(api).patch_namespaced_deployment_scale(
            "web", fleet.namespace, {"spec": {"replicas": 3}}, field_manager="ops-team"
        )
    result = await fleet.sync()
    failed = next(c for c in result["dev-1"].changes if c.action is Action.FAILED)
    assert failed.key.kind == "Deployment"
    assert 'conflict with "ops-team"' in failed.message and ".spec.replicas" in failed.message
    forced = await fleet.sync(force_conflicts=True)
    assert actions(forced["dev-1"])["Deployment/web"] == "configured"
    async with fleet.lab.api("dev-1") as api:
        dep = await client.AppsV1Api(api).read_namespaced_deployment("web", fleet.namespace)
        assert dep.spec.replicas == 1


async def test_deployment_that_cannot_become_ready_makes_the_cluster_degraded(fleet: FleetRepo) -> None:
    patch = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n"
        "spec:\n  progressDeadlineSeconds: 5\n  template:\n    spec:\n      nodeSelector: {disk: none-has-it}\n"
    )
    fleet.commit({"overlays/dev/patches/stuck.yaml": patch})
    result = await fleet.sync(selection=Selection(clusters=("dev-1",)), wait=True, wait_timeout=90)
    dev = result["dev-1"]
    assert dev.health.code is Code.DEGRADED, dev.health
    assert dev.health.message.startswith("ProgressDeadlineExceeded")


HPA_V2BETA2 = """\
apiVersion: autoscaling/v2beta2
kind: HorizontalPodAutoscaler
metadata:
  name: web
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 3
"""


async def test_an_api_version_a_cluster_does_not_serve_changes_nothing_there(fleet: FleetRepo) -> None:
    await fleet.sync()
    app = (fleet.root / "overlays/base/app.yaml").read_text()
    fleet.commit(
        {
            "overlays/base/app.yaml": app.replace("color: {{ values.color }}", "color: red"),
            "overlays/dev/hpa.yaml": HPA_V2BETA2,  # removed from Kubernetes in 1.26
        }
    )
    plan = await asyncio.to_thread(
        CliRunner().invoke, cli_main, ["plan", "--repo", str(fleet.root)], env=fleet.cli_env()
    )
    assert plan.exit_code == 1
    line = next(x for x in plan.stdout.splitlines() if x.startswith("dev-1: error"))
    assert "autoscaling/v2beta2 HorizontalPodAutoscaler" in line and "overlays/dev/hpa.yaml" in line
    assert "not served by dev-1 (v1." in line
    result = await fleet.sync()
    assert result["dev-1"].error and "nothing changed here" in result["dev-1"].error
    assert result["staging-1"].matches_git
    async with fleet.lab.api("dev-1") as dev, fleet.lab.api("staging-1") as staging:
        dev_cm = await client.CoreV1Api(dev).read_namespaced_config_map("settings", fleet.namespace)
        staging_cm = await client.CoreV1Api(staging).read_namespaced_config_map("settings", fleet.namespace)
    assert (dev_cm.data["color"], staging_cm.data["color"]) == ("blue", "red")
