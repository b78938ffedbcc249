"""What a lab runs: cluster names, Kubernetes versions, worker counts and node labels, read from
kind-config/.

Both backends describe the same fleet: kind uses the files as they are, the local backend reads the
cluster name, the workers and their labels, and the Kubernetes version from the nodes' image tag
(``image: kindest/node:v1.34.4``; any patch of a minor the lab builds selects the lab's pinned patch).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from fleet.errors import InputError
from fleet.lab.versions import KUBERNETES_VERSION, KUBERNETES_VERSIONS, pinned_version

DEFAULT_WORKERS = 2
CLUSTER_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$")
IMAGE_VERSION = re.compile(r":(v?\d+\.\d+(?:\.\d+)?)(?:@|$)")


@dataclass(frozen=True)
class NodeSpec:
    name: str
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ClusterSpec:
    name: str
    nodes: tuple[NodeSpec, ...]
    kind_config: Path | None = None
    kubernetes_version: str = KUBERNETES_VERSION


def validate_cluster_name(name: str, *, source: str = "--clusters") -> str:
    if not CLUSTER_NAME.match(name):
        raise InputError(
            f"invalid cluster name {name!r}: use lowercase letters, digits and '-' (at most 40 characters)",
            path=source,
        )
    return name


def default_nodes(cluster: str, count: int = DEFAULT_WORKERS) -> tuple[NodeSpec, ...]:
    return tuple(NodeSpec(f"{cluster}-worker-{i}") for i in range(1, count + 1))


def load_kind_config(path: Path) -> ClusterSpec:
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(f"invalid YAML: {exc}", path=str(path), line=mark.line + 1 if mark else None) from None
    if not isinstance(doc, dict) or doc.get("kind") != "Cluster":
        raise InputError("not a kind Cluster config (kind: Cluster)", path=str(path))
    name = validate_cluster_name(str(doc.get("name") or path.stem), source=str(path))
    raw_nodes = doc.get("nodes") or []
    if not isinstance(raw_nodes, list):
        raise InputError("must be a list", path=str(path), field="nodes")
    workers: list[NodeSpec] = []
    versions: set[str] = set()
    for index, node in enumerate(raw_nodes):
        if not isinstance(node, dict):
            raise InputError("must be a mapping", path=str(path), field=f"nodes[{index}]")
        if node.get("image") is not None:
            versions.add(_node_version(node.get("image"), path, f"nodes[{index}].image"))
        if node.get("role", "control-plane") != "worker":
            continue
        labels = node.get("labels") or {}
        if not isinstance(labels, dict):
            raise InputError("must be a mapping", path=str(path), field=f"nodes[{index}].labels")
        workers.append(NodeSpec(f"{name}-worker-{len(workers) + 1}", {str(k): str(v) for k, v in labels.items()}))
    # kind runs workloads on the control-plane node when there is no worker; simulate at least two nodes.
    while len(workers) < DEFAULT_WORKERS:
        workers.append(NodeSpec(f"{name}-worker-{len(workers) + 1}"))
    if len(versions) > 1:
        raise InputError(
            f"nodes run different Kubernetes versions ({', '.join(sorted(versions))}); the lab runs one per cluster",
            path=str(path),
            field="nodes[].image",
        )
    return ClusterSpec(name, tuple(workers), path, versions.pop() if versions else KUBERNETES_VERSION)


def _node_version(image: object, path: Path, field_name: str) -> str:
    match = IMAGE_VERSION.search(str(image))
    if not match:
        raise InputError("the image needs a version tag (kindest/node:v1.34.4)", path=str(path), field=field_name)
    pinned = pinned_version(match.group(1))
    if pinned is None:
        supported = ", ".join(KUBERNETES_VERSIONS)
        raise InputError(
            f"Kubernetes {match.group(1)} is not one the lab builds ({supported})", path=str(path), field=field_name
        )
    return pinned


def load_topology(kind_config_dir: Path | None, names: list[str] | None) -> list[ClusterSpec]:
    """Clusters for ``names`` (kind-config when a file exists, else defaults), or every kind-config file."""
    known: dict[str, ClusterSpec] = {}
    if kind_config_dir and kind_config_dir.is_dir():
        for path in sorted(kind_config_dir.glob("*.yaml")):
            spec = load_kind_config(path)
            known[spec.name] = spec
    if not names:
        if not known:
            raise InputError("no clusters given: pass --clusters a,b,c or run where kind-config/ describes the fleet")
        return list(known.values())
    specs = []
    for name in names:
        validate_cluster_name(name)
        specs.append(known.get(name) or ClusterSpec(name, default_nodes(name)))
    if len({s.name for s in specs}) != len(specs):
        raise InputError("a cluster name is given twice", path="--clusters")
    return specs
