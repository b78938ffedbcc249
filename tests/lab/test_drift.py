"""Drift and status against the real lab: a synced fleet has zero drift; foreign edits are reported with
the exact path, values and manager; an unreachable cluster is Unknown while the others report."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner
from kubernetes_asyncio import client

from fleet.cli import cli
from fleet.config import FleetConfig
from fleet.engine.sync import SyncOptions
from fleet.model.cluster import Selection
from fleet.model.drift import DriftType
from fleet.model.health import Code
from fleet.model.report import SyncState
from fleet.workflows.status import fleet_report
from fleet.workflows.syncing import sync_fleet
from fleet.workflows.workspace import Workspace
from tests.support.lab import LabSession
from tests.support.labrepo import FleetRepo

ROOT = Path(__file__).resolve().parents[2]


async def test_the_example_fleet_has_zero_drift_after_a_sync_on_every_kind(lab_session: LabSession) -> None:
    config = FleetConfig(lab_session.kubeconfig("dev-1").parent)
    workspace = Workspace.open(ROOT, local=True, config=config)
    rendered = [workspace.render(c) for c in workspace.select(Selection())]
    results = await sync_fleet(rendered, config, SyncOptions(wait=True, wait_timeout=90, force_conflicts=True))
    assert all(not cs.failed for cs in results), [(cs.cluster, cs.error) for cs in results]
    kinds = {c.key.kind for cs in results for c in cs.changes}
    assert {"Namespace", "ConfigMap", "Secret", "ServiceAccount", "Role", "RoleBinding", "Deployment"} <= kinds
    assert {"Service", "PodDisruptionBudget", "CustomResourceDefinition", "Promotion"} <= kinds
    report = await fleet_report(rendered, config)
    for cluster in report.clusters:
        assert cluster.drift == (), (cluster.name, [i.to_dict() for i in cluster.drift])
        assert cluster.sync is SyncState.SYNCED and cluster.health.code is Code.HEALTHY, cluster.why()
    assert report.ok


@pytest.fixture
async def synced(dev_and_staging: FleetRepo) -> FleetRepo:
    await dev_and_staging.sync(wait=True, wait_timeout=60)
    return dev_and_staging


async def _report(fleet: FleetRepo, *, strict: bool = False):  # type: ignore[no-untyped-def]
    workspace = fleet.workspace()
    rendered = [workspace.render(c) for c in workspace.select(Selection())]
    report = await fleet_report(rendered, fleet.config, inventory_name=fleet.inventory, strict=strict)
    return {c.name: c for c in report.clusters}


async def test_foreign_edits_are_reported_with_path_values_and_manager(synced: FleetRepo) -> None:
    ns = synced.namespace
    async with synced.lab.api("dev-1") as api:
        apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
        await apps.patch_namespaced_deployment_scale("web", ns, {"spec": {"replicas": 2}}, field_manager="hpa-ish")
        image = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "example.invalid/web:hot"}]}}}}
        await apps.patch_namespaced_deployment("web", ns, image, field_manager="kubectl-set")
        await core.patch_namespaced_service(
            "web", ns, {"metadata": {"labels": {"team": "payments"}}}, field_manager="labeller"
        )
        ports = [{"op": "replace", "path": "/spec/ports/0/port", "value": 8081}]
        await core.patch_namespaced_service("web", ns, ports, field_manager="port-fiddler")
        await core.delete_namespaced_config_map("settings", ns)
    reports = await _report(synced)
    dev = reports["dev-1"]
    assert dev.sync is SyncState.OUT_OF_SYNC
    by_object = {(i.key.kind, i.key.name): i for i in dev.drift}
    assert by_object[("ConfigMap", "settings")].type is DriftType.MISSING

    deployment = by_object[("Deployment", "web")]
    fields = {f.path: f for f in deployment.fields}
    assert (fields["spec.replicas"].desired, fields["spec.replicas"].live) == (1, 2)
    assert fields["spec.replicas"].manager == "hpa-ish (scale)"
    image_path = "spec.template.spec.containers[name=web].image"
    assert (fields[image_path].desired, fields[image_path].live) == ("example.invalid/web:1", "example.invalid/web:hot")
    assert fields[image_path].manager == "kubectl-set"
    assert deployment.type is DriftType.CONFLICT  # another manager now owns fields fleet sets

    service = {f.path: f for f in by_object[("Service", "web")].fields}
    # A label fleet does not declare is not drift: fleet would not change it, and plan agrees...
    assert "metadata.labels.team" not in service
    # ... but strict mode shows it, with the manager that added it.
    strict = {(i.key.kind, i.key.name): i for i in (await _report(synced, strict=True))["dev-1"].drift}
    team = {f.path: f for f in strict[("Service", "web")].fields}["metadata.labels.team"]
    assert (team.desired, team.live, team.manager) == (None, "payments", "labeller")
    port = service["spec.ports[name=http].port"]
    assert (port.desired, port.live, port.manager) == (80, 8081, "port-fiddler")
    assert len(dev.drift) == 3
    assert reports["staging-1"].drift == () and reports["staging-1"].sync is SyncState.SYNCED
    assert "OutOfSync" in (dev.why() or "")


async def test_a_stopped_apiserver_is_unknown_with_the_reason_and_others_report(synced: FleetRepo) -> None:
    synced.lab.lab.stop_apiserver("staging-1")
    try:
        reports = await _report(synced)
    finally:
        await synced.lab.lab.start_apiserver("staging-1")
    staging = reports["staging-1"]
    assert staging.sync is SyncState.UNKNOWN and staging.health.code is Code.UNKNOWN
    assert "cannot connect" in (staging.error or "")
    assert (staging.why() or "").startswith("unreachable since ")
    assert reports["dev-1"].sync is SyncState.SYNCED and reports["dev-1"].error is None


def test_status_and_drift_cli_exit_codes(synced: FleetRepo) -> None:
    env = synced.cli_env()
    runner = CliRunner()
    base = ["--repo", str(synced.root)]
    ok = runner.invoke(cli, ["status", *base, "--exit-code", "-o", "json"], env=env)
    assert ok.exit_code == 0, ok.output
    assert '"sync": "Synced"' in ok.stdout
    unknown = runner.invoke(cli, ["drift", "nope", *base], env=env)
    assert unknown.exit_code == 2 and "known clusters: dev-1, staging-1" in unknown.stderr


def test_status_exit_code_is_3_when_drifted(synced: FleetRepo) -> None:
    async def delete_settings() -> None:
        async with synced.lab.api("dev-1") as api:
            await client.CoreV1Api(api).delete_namespaced_config_map("settings", synced.namespace)

    asyncio.run(delete_settings())  # the CLI runs its own event loop: this test has none running
    env = synced.cli_env()
    result = CliRunner().invoke(cli, ["status", "--repo", str(synced.root), "--exit-code"], env=env)
    assert result.exit_code == 3
    assert "dev-1: OutOfSync: missing ConfigMap" in result.stdout
    drift = CliRunner().invoke(cli, ["drift", "dev-1", "--repo", str(synced.root), "-o", "json"], env=env)
    assert drift.exit_code == 0
    assert '"type": "missing"' in drift.stdout
