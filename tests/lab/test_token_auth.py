"""A kubeconfig with a bearer token (a ServiceAccount's, from the TokenRequest API) works as well as the
lab's client certificates: fleet sends the token on every request, and a token the apiserver refuses is
a clear 401 error naming the cluster."""

from __future__ import annotations

from pathlib import Path

import yaml
from kubernetes_asyncio import client

from fleet.config import FleetConfig
from fleet.engine.sync import SyncOptions
from fleet.model.cluster import Selection
from fleet.workflows.syncing import sync_fleet
from fleet.workflows.workspace import Workspace
from tests.support.labrepo import FleetRepo


async def service_account_token(fleet: FleetRepo, name: str) -> str:
    async with fleet.lab.api("dev-1") as api:
        core, rbac = client.CoreV1Api(api), client.RbacAuthorizationV1Api(api)
        await core.create_namespace({"metadata": {"name": name}})
        await core.create_namespaced_service_account(name, {"metadata": {"name": name}})
        await rbac.create_cluster_role_binding(
            {
                "metadata": {"name": name},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
                "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": name}],
            }
        )
        request = {"spec": {"audiences": [], "expirationSeconds": 3600}}
        answer = await core.create_namespaced_service_account_token(name, name, request)
        return str(answer.status.token)


def token_kubeconfig(fleet: FleetRepo, directory: Path, token: str) -> None:
    """dev-1's kubeconfig with the token as its only credential (same server and CA)."""
    original = yaml.safe_load(fleet.lab.kubeconfig("dev-1").read_text())
    cluster = original["clusters"][0]["cluster"]
    if "certificate-authority" in cluster:
        cluster["certificate-authority"] = str(
            (fleet.lab.kubeconfig("dev-1").parent / cluster["certificate-authority"]).resolve()
        )
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "dev-1", "cluster": cluster}],
        "users": [{"name": "sa", "user": {"token": token}}],
        "contexts": [{"name": "dev-1", "context": {"cluster": "dev-1", "user": "sa"}}],
        "current-context": "dev-1",
    }
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "dev-1.kubeconfig").write_text(yaml.safe_dump(config))


async def test_a_service_account_token_kubeconfig_syncs_and_a_refused_token_is_a_401(
    dev_only: FleetRepo, tmp_path: Path
) -> None:
    token = await service_account_token(dev_only, f"sa-{dev_only.namespace}")
    credentials = tmp_path / "credentials"
    token_kubeconfig(dev_only, credentials, token)
    dev_only.commit({"clusters/dev-1.yaml": "name: dev-1\nenv: dev\nkubeconfig: dev-1.kubeconfig\n"})
    config = FleetConfig(credentials, inventory=dev_only.inventory)
    workspace = Workspace.open(dev_only.root, config=config)
    rendered = [workspace.render(c) for c in workspace.select(Selection())]
    [result] = await sync_fleet(rendered, config, SyncOptions(inventory=dev_only.inventory))
    assert not result.failed, result.error
    assert result.writes > 0
    async with dev_only.lab.api("dev-1") as api:
        deployment = await client.AppsV1Api(api).read_namespaced_deployment("web", dev_only.namespace)
    assert any(f.manager == "fleet" for f in deployment.metadata.managed_fields)

    token_kubeconfig(dev_only, credentials, token[:-8] + "AAAAAAAA")
    [refused] = await sync_fleet(rendered, config, SyncOptions(inventory=dev_only.inventory))
    assert refused.failed and "401 Unauthorized" in (refused.error or "") and token not in (refused.error or "")
