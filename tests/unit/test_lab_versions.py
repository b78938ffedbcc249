"""The lab's Kubernetes versions: pinned modules agree with versions.py, kind-config chooses a version per
cluster, and the registry's kubernetesVersion reaches templates."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fleet.errors import InputError, RegistryError
from fleet.lab.topology import load_kind_config
from fleet.lab.versions import (
    GOMOD_DIR,
    KUBERNETES_VERSION,
    KUBERNETES_VERSIONS,
    kubernetes_bin_dir,
    minor_of,
    pinned_version,
)
from fleet.render.engine import Renderer, envs_of
from fleet.repo.registry import load_registry
from tests.support.fleetfiles import CONFIG, MINIMAL, snapshot


def test_every_pinned_version_has_a_module_requiring_exactly_it() -> None:
    assert KUBERNETES_VERSION in KUBERNETES_VERSIONS
    assert len({minor_of(v) for v in KUBERNETES_VERSIONS}) == len(KUBERNETES_VERSIONS) >= 3
    for version, module in KUBERNETES_VERSIONS.items():
        go_mod = (GOMOD_DIR / module / "go.mod").read_text()
        assert re.search(rf"^require k8s\.io/kubernetes {re.escape(version)}$", go_mod, re.M), module
        staging = set(re.findall(r"^\s+(k8s\.io/\S+) => \S+ (v0\.\d+\.\d+)$", go_mod, re.M))
        assert staging, module
        assert {tag for _, tag in staging} == {"v0." + version.lstrip("v").split(".", 1)[1]}, module


def test_each_version_has_its_own_cache_directory() -> None:
    dirs = {kubernetes_bin_dir(v) for v in KUBERNETES_VERSIONS}
    assert len(dirs) == len(KUBERNETES_VERSIONS)


@pytest.mark.parametrize(("requested", "pinned"), [("v1.34", "v1.34.4"), ("1.35.1", "v1.35.4"), ("v1.36.3", "v1.36.3")])
def test_a_minor_selects_the_pinned_patch(requested: str, pinned: str) -> None:
    assert pinned_version(requested) == pinned


def kind_config(tmp_path: Path, nodes: str) -> Path:
    path = tmp_path / "c-1.yaml"
    path.write_text(f"kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nname: c-1\nnodes:\n{nodes}")
    return path


def test_kind_config_node_images_choose_the_version(tmp_path: Path) -> None:
    nodes = "  - role: control-plane\n    image: kindest/node:v1.34.0@sha256:abc\n  - role: worker\n"
    assert load_kind_config(kind_config(tmp_path, nodes)).kubernetes_version == "v1.34.4"
    assert load_kind_config(kind_config(tmp_path, "  - role: control-plane\n")).kubernetes_version == KUBERNETES_VERSION


@pytest.mark.parametrize(
    ("nodes", "message"),
    [
        ("  - role: control-plane\n    image: kindest/node:v1.20.7\n", r"not one the lab builds"),
        ("  - role: control-plane\n    image: kindest/node:latest\n", r"needs a version tag"),
        (
            "  - role: control-plane\n    image: kindest/node:v1.34.4\n"
            "  - role: worker\n    image: kindest/node:v1.35.4\n",
            r"different Kubernetes versions",
        ),
    ],
)
def test_bad_node_images_are_named(tmp_path: Path, nodes: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        load_kind_config(kind_config(tmp_path, nodes))


def test_templates_branch_on_the_registry_kubernetes_version() -> None:
    template = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: v}\n"
        "data: {minor: '{{ cluster.kubernetesMinor }}', "
        "api: '{% if cluster.kubernetesMinor >= 35 %}new{% else %}old{% endif %}'}\n"
    )
    files = {
        **MINIMAL,
        "clusters/dev-1.yaml": "env: dev\nkubeconfig: k\nkubernetesVersion: '1.34'\n",
        "clusters/dev-2.yaml": "env: dev\nkubeconfig: k\nkubernetesVersion: v1.36.3\n",
        "overlays/base/v.yaml": template,
    }
    snap = snapshot(files)
    registry = load_registry(snap, CONFIG, known_envs=envs_of(snap))
    seen = {}
    for cluster in registry.clusters:
        objects = Renderer(snap).render(cluster).objects
        seen[cluster.name] = next(o for k, o in objects.items() if k.name == "v")["data"]
    assert seen == {"dev-1": {"minor": "34", "api": "old"}, "dev-2": {"minor": "36", "api": "new"}}


@pytest.mark.parametrize("value", ["1.34", "'one'", "[1]", "'2.0'"])
def test_kubernetes_version_must_be_a_version(value: str) -> None:
    snap = snapshot({**MINIMAL, "clusters/dev-1.yaml": f"env: dev\nkubeconfig: k\nkubernetesVersion: {value}\n"})
    with pytest.raises(RegistryError, match=r"field 'kubernetesVersion'"):
        load_registry(snap, CONFIG, known_envs=envs_of(snap))
