"""Helpers to build small fleets in memory or as real Git repositories for tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

import git

from fleet.config import FleetConfig
from fleet.repo.source import Snapshot

CONFIG = FleetConfig(Path("/credentials"))

MINIMAL = {
    "clusters/dev-1.yaml": "name: dev-1\nenv: dev\nlabels: {region: eu, wave: '1'}\nkubeconfig: dev-1.kubeconfig\n",
    "overlays/base/values.yaml": "replicas: 1\nimage: {tag: '1.0'}\n",
    "overlays/base/app.yaml": """\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: app
        spec:
          replicas: {{ values.replicas }}
          template:
            spec:
              containers:
                - name: app
                  image: app:{{ values.image.tag }}
        """,
    "overlays/dev/values.yaml": "replicas: 2\n",
}


def snapshot(files: dict[str, str], revision: str = "test") -> Snapshot:
    return Snapshot(revision, {p: textwrap.dedent(t).encode() for p, t in files.items()})


def git_repo(path: Path, files: dict[str, str]) -> git.Repo:
    repo = git.Repo.init(path, initial_branch="main")
    commit_files(repo, files, "initial")
    return repo


def commit_files(repo: git.Repo, files: dict[str, str | None], message: str) -> str:
    root = Path(repo.working_tree_dir or ".")
    for rel, text in files.items():
        full = root / rel
        if text is None:
            repo.index.remove([rel], working_tree=True)
            continue
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_text(textwrap.dedent(text))
        repo.index.add([rel])
    return str(repo.index.commit(message).hexsha)
