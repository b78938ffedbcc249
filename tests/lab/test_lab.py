"""The lab is real: real apiservers, controllers, scheduler and simulated nodes."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import yaml
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from fleet.lab.versions import KUBERNETES_VERSION
from tests.support.lab import LabSession, wait_for


async def test_every_cluster_serves_the_pinned_version(lab_session: LabSession) -> None:
    versions = {}
    for name, endpoint in lab_session.endpoints.items():
        async with lab_session.api(name) as api:
            info = await client.VersionApi(api).get_code()
        assert info.git_version == endpoint.kubernetes_version, name
        versions[name] = info.git_version
    # The example fleet is mid-upgrade: three minors at once.
    assert len({v.rsplit(".", 1)[0] for v in versions.values()}) == 3, versions
    assert versions["dev-1"] == KUBERNETES_VERSION


async def test_clusters_are_independent(lab_session: LabSession) -> None:
    first, second = sorted(lab_session.endpoints)[:2]
    name = f"only-in-{first}-{uuid.uuid4().hex[:6]}"
    async with lab_session.api(first) as api:
        await client.CoreV1Api(api).create_namespaced_config_map(
            "default", {"metadata": {"name": name}, "data": {"k": "v"}}
        )
    async with lab_session.api(second) as api:
        try:
            await client.CoreV1Api(api).read_namespaced_config_map(name, "default")
            raise AssertionError(f"{name} leaked from {first} into {second}")
        except ApiException as exc:
            assert exc.status == 404


async def test_nodes_are_ready_and_labelled_as_in_kind_config(lab_session: LabSession) -> None:
    for spec in lab_session.specs:
        async with lab_session.api(spec.name) as api:
            nodes = (await client.CoreV1Api(api).list_node()).items
        by_name = {n.metadata.name: n for n in nodes}
        assert set(by_name) == {n.name for n in spec.nodes}
        assert len(by_name) >= 2
        for node in spec.nodes:
            live = by_name[node.name]
            assert {c.type: c.status for c in live.status.conditions}["Ready"] == "True"
            for key, value in node.labels.items():
                assert live.metadata.labels[key] == value


def _deployment(name: str, replicas: int, node_selector: dict[str, str] | None = None) -> dict[str, Any]:
    labels = {"app": name}
    pod_spec: dict[str, Any] = {"containers": [{"name": "app", "image": "example.invalid/app:1"}]}
    if node_selector:
        pod_spec["nodeSelector"] = node_selector
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
    }


async def test_deployment_becomes_available_on_simulated_nodes(lab_session: LabSession) -> None:
    cluster = sorted(lab_session.endpoints)[0]
    name = f"avail-{uuid.uuid4().hex[:6]}"
    async with lab_session.api(cluster) as api:
        apps = client.AppsV1Api(api)
        await apps.create_namespaced_deployment("default", _deployment(name, 2))

        async def available() -> bool:
            status = (await apps.read_namespaced_deployment_status(name, "default")).status
            conditions = {c.type: c.status for c in status.conditions or []}
            return status.available_replicas == 2 and conditions.get("Available") == "True"

        await wait_for(available, timeout=60, what=f"Deployment {name} Available")
        pods = (await client.CoreV1Api(api).list_namespaced_pod("default", label_selector=f"app={name}")).items
        assert len(pods) == 2
        assert all(p.spec.node_name and p.status.phase == "Running" for p in pods)


async def test_unschedulable_deployment_stays_unavailable(lab_session: LabSession) -> None:
    cluster = sorted(lab_session.endpoints)[0]
    name = f"stuck-{uuid.uuid4().hex[:6]}"
    async with lab_session.api(cluster) as api:
        apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
        await apps.create_namespaced_deployment("default", _deployment(name, 1, {"no-such-label": "x"}))

        async def unschedulable() -> bool:
            pods = (await core.list_namespaced_pod("default", label_selector=f"app={name}")).items
            return any(
                c.type == "PodScheduled" and c.status == "False" and c.reason == "Unschedulable"
                for p in pods
                for c in p.status.conditions or []
            )

        await wait_for(unschedulable, timeout=60, what="the scheduler reporting Unschedulable")
        status = (await apps.read_namespaced_deployment_status(name, "default")).status
        assert not status.available_replicas


def test_fleet_clusters_checks_every_kubeconfig_and_api(lab_session: LabSession, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from fleet.cli import cli

    root = Path(__file__).resolve().parents[2]
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    for name in ("dev-1", "staging-1", "prod-eu-1"):
        (credentials / f"{name}.kubeconfig").write_text(lab_session.kubeconfig(name).read_text())
    exec_user = yaml.safe_load(lab_session.kubeconfig("prod-us-1").read_text())
    exec_user["users"][0]["user"] = {"exec": {"command": "touch", "args": [str(tmp_path / "pwned")]}}
    (credentials / "prod-us-1.kubeconfig").write_text(yaml.safe_dump(exec_user))
    env = {"FLEET_CREDENTIALS_DIR": str(credentials)}
    result = CliRunner().invoke(cli, ["clusters", "--repo", str(root), "--local", "-o", "json"], env=env)
    assert result.exit_code == 0, result.output
    rows = {c["name"]: c for c in json.loads(result.stdout)["clusters"]}
    for name in ("dev-1", "staging-1", "prod-eu-1"):
        assert rows[name]["reachable"] and rows[name]["version"] == lab_session.endpoints[name].kubernetes_version
    assert not rows["prod-us-1"]["reachable"]
    assert "credential plugin (exec)" in rows["prod-us-1"]["kubeconfigStatus"]
    assert not (tmp_path / "pwned").exists()
    assert "BEGIN" not in result.stdout and "client-key-data" not in result.stdout
