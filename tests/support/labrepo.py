"""A small fleet repository per test, pointing at the session lab's clusters, isolated from other tests
by its own namespace and its own inventory name."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from kubernetes_asyncio import client

from fleet.config import FleetConfig
from fleet.engine.sync import SyncOptions
from fleet.model.changeset import ChangeSet
from fleet.model.cluster import Selection
from fleet.workflows.syncing import sync_fleet
from fleet.workflows.workspace import Workspace
from tests.support.fleetfiles import commit_files, git_repo
from tests.support.lab import LabSession

NAMESPACE = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {{ values.namespace }}\n"
APP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  color: {{ values.color }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: {{ values.replicas }}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: example.invalid/web:{{ values.tag }}
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
    - {name: http, port: 80, targetPort: 8080}
"""


class FleetRepo:
    """A Git repository with clusters/ and overlays/ for some of the lab's clusters."""

    def __init__(self, root: Path, lab: LabSession, clusters: dict[str, str]) -> None:
        self.lab = lab
        self.namespace = f"t-{uuid.uuid4().hex[:8]}"
        self.inventory = f"inv-{self.namespace}"
        files: dict[str, str] = {
            "overlays/base/values.yaml": f"namespace: {self.namespace}\nreplicas: 1\ncolor: blue\ntag: '1'\n",
            "overlays/base/00-namespace.yaml": NAMESPACE,
            "overlays/base/app.yaml": APP,
        }
        for env in set(clusters.values()):
            files[f"overlays/{env}/values.yaml"] = "{}\n"
        for name, env in clusters.items():
            files[f"clusters/{name}.yaml"] = (
                f"name: {name}\nenv: {env}\nkubeconfig: {lab.kubeconfig(name)}\ncontext: {name}\n"
            )
        self.repo = git_repo(root, files)
        self.root = root
        self.config = FleetConfig(lab.kubeconfig(next(iter(clusters))).parent, inventory=self.inventory)
        # For the CLI: a hub config with this fleet's credentials dir and inventory name.
        self.config_file = root.parent / f"{self.namespace}-hub.yaml"
        self.config_file.write_text(f"credentialsDir: {self.config.credentials_dir}\ninventoryName: {self.inventory}\n")

    def cli_env(self) -> dict[str, str]:
        return {"FLEET_CONFIG": str(self.config_file)}

    def commit(self, files: dict[str, str | None], message: str = "change") -> str:
        return commit_files(self.repo, files, message)

    def workspace(self, ref: str = "HEAD") -> Workspace:
        return Workspace.open(self.root, ref=ref, config=self.config)

    async def sync(self, selection: Selection | None = None, **options: Any) -> dict[str, ChangeSet]:
        workspace = self.workspace()
        rendered = [workspace.render(c) for c in workspace.select(selection or Selection())]
        opts = SyncOptions(inventory=self.inventory, **options)
        return {cs.cluster: cs for cs in await sync_fleet(rendered, self.config, opts)}


async def sync_from_cli_process(root: str, inventory: str) -> None:
    """Entry point for a separate process that syncs the fleet at ``root`` (and can be killed)."""
    import os

    config = FleetConfig(Path(os.environ["FLEET_CREDENTIALS_DIR"]))
    workspace = Workspace.open(Path(root), config=config)
    rendered = [workspace.render(c) for c in workspace.select(Selection())]
    await sync_fleet(rendered, config, SyncOptions(inventory=inventory))


def with_remote(fleet: FleetRepo, base: Path) -> Path:
    """Give ``fleet`` a bare remote (returned) and make its repo a clone of it, as a team would work."""
    import git

    remote = git.Repo.clone_from(str(fleet.root), str(base / "remote.git"), bare=True)
    work = git.Repo.clone_from(remote.git_dir, str(base / "work"))
    fleet.repo, fleet.root = work, Path(work.working_tree_dir or "")
    return Path(remote.git_dir)


def push(fleet: FleetRepo, files: dict[str, str | None], message: str = "change") -> str:
    sha = fleet.commit(files, message)
    fleet.repo.remotes.origin.push()
    return sha


# 150 ConfigMaps: a sync long enough to be killed halfway.
MANY = "\n---\n".join(
    f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i:03d}\ndata: {{i: '{i}'}}" for i in range(150)
)


async def fleet_configmaps(lab: LabSession, namespace: str) -> set[str]:
    async with lab.api("dev-1") as api:
        items = (await client.CoreV1Api(api).list_namespaced_config_map(namespace)).items
    return {i.metadata.name for i in items if (i.metadata.labels or {}).get("app.kubernetes.io/managed-by") == "fleet"}
