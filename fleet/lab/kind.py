"""The kind backend, for machines with Docker and kind: the same fleet from the same kind-config/ files.

The clusters are kind's own; fleet only creates and deletes them and writes one kubeconfig per cluster
with the context renamed to the cluster's name, as the local backend does.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from fleet.errors import LabError
from fleet.lab.local import ClusterEndpoint
from fleet.lab.topology import ClusterSpec


def _require_tools() -> str:
    kind = shutil.which("kind")
    if not kind:
        raise LabError("--backend kind needs the `kind` command on PATH (https://kind.sigs.k8s.io)")
    docker = shutil.which("docker")
    if not docker:
        raise LabError("--backend kind needs Docker: the `docker` command is not on PATH")
    probe = subprocess.run([docker, "info"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        raise LabError(
            "--backend kind needs a running Docker engine; `docker info` failed: " + probe.stderr.strip()[-300:]
        )
    return kind


def _rename_context(path: Path, cluster: str) -> None:
    config = yaml.safe_load(path.read_text())
    for ctx in config.get("contexts", []):
        if ctx["name"] == f"kind-{cluster}":
            ctx["name"] = cluster
    if config.get("current-context") == f"kind-{cluster}":
        config["current-context"] = cluster
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)


def up(root: Path, specs: list[ClusterSpec]) -> list[ClusterEndpoint]:
    kind = _require_tools()
    existing = set(
        subprocess.run([kind, "get", "clusters"], capture_output=True, text=True, check=False).stdout.split()
    )
    endpoints = []
    for spec in specs:
        if spec.kind_config is None:
            raise LabError(f"--backend kind needs kind-config/{spec.name}.yaml for cluster {spec.name}")
        path = root / "kubeconfigs" / f"{spec.name}.kubeconfig"
        path.parent.mkdir(parents=True, exist_ok=True)
        if spec.name not in existing:
            run = subprocess.run(
                [
                    kind,
                    "create",
                    "cluster",
                    "--name",
                    spec.name,
                    "--config",
                    str(spec.kind_config),
                    "--kubeconfig",
                    str(path),
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if run.returncode != 0:
                raise LabError(f"kind create cluster {spec.name} failed:\n{run.stderr.strip()[-2000:]}")
        else:
            export = subprocess.run(
                [kind, "export", "kubeconfig", "--name", spec.name, "--kubeconfig", str(path)],
                capture_output=True,
                text=True,
                check=False,
            )
            if export.returncode != 0:
                raise LabError(f"kind export kubeconfig {spec.name} failed:\n{export.stderr.strip()[-2000:]}")
        _rename_context(path, spec.name)
        server = yaml.safe_load(path.read_text())["clusters"][0]["cluster"]["server"]
        endpoints.append(ClusterEndpoint(spec.name, server, path, spec.name, spec.kubernetes_version))
    return endpoints


def down(specs: list[ClusterSpec]) -> None:
    kind = _require_tools()
    for spec in specs:
        subprocess.run([kind, "delete", "cluster", "--name", spec.name], capture_output=True, check=False)
