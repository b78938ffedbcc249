"""Input that used to give silently odd results is now a clear error (or isolated): one cluster in two
files, label and annotation names that are not strings, label values that are mappings. (Template state
between clusters and `values.update()` are in test_render_bounds.py; URL credentials with `@` in
test_source_reads_only_the_repo.py.)"""

from __future__ import annotations

import pytest

from fleet.errors import RegistryError, RenderError
from fleet.render.engine import Renderer, envs_of
from fleet.repo.registry import load_registry
from tests.support.fleetfiles import CONFIG, MINIMAL, snapshot


def render(files: dict[str, str]) -> None:
    snap = snapshot({**MINIMAL, **files})
    registry = load_registry(snap, CONFIG, known_envs=envs_of(snap))
    Renderer(snap).render(registry.get("dev-1"))


def test_one_cluster_in_a_yaml_and_a_yml_file_is_refused() -> None:
    with pytest.raises(RegistryError, match=r"'dev-1' is defined twice"):
        render({"clusters/dev-1.yml": "env: dev\nkubeconfig: other\n"})


@pytest.mark.parametrize("key", ["1", "true", "1.5", "null"])
def test_a_label_name_that_is_not_a_string_is_refused_in_the_registry(key: str) -> None:
    with pytest.raises(RegistryError, match=r"label names are strings"):
        render({"clusters/dev-1.yaml": f"env: dev\nkubeconfig: k\nlabels: {{{key}: x}}\n"})


@pytest.mark.parametrize("field", ["labels", "annotations"])
def test_object_label_and_annotation_names_must_be_strings(field: str) -> None:
    doc = f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  {field}: {{8080: x}}\n"
    with pytest.raises(RenderError, match=rf"overlays/base/c.yaml:1.*metadata.{field}.*keys must be strings"):
        render({"overlays/base/c.yaml": doc})


def test_a_label_value_that_is_a_mapping_is_refused_not_stringified() -> None:
    doc = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  labels: {team: {a: b}}\n"
    with pytest.raises(RenderError, match=r"metadata.labels.team.*values must be strings"):
        render({"overlays/base/c.yaml": doc})


def test_a_patch_that_removes_what_an_object_needs_is_named() -> None:
    patch = "target: {kind: Deployment, name: app}\npatch:\n  - {op: remove, path: /metadata}\n"
    with pytest.raises(RenderError, match=r"overlays/base/app.yaml \(document 1\).*field 'metadata'.*dev-1"):
        render({"overlays/dev/patches/p.yaml": patch})
