from __future__ import annotations

from pathlib import Path

import pytest

from fleet.errors import RenderError
from fleet.model.objects import ObjectKey
from fleet.render.engine import Renderer, envs_of
from fleet.repo.registry import load_registry
from fleet.repo.source import Repository
from tests.support.fleetfiles import CONFIG, MINIMAL, commit_files, git_repo, snapshot


def render(files: dict[str, str], cluster: str = "dev-1") -> dict[ObjectKey, dict]:
    snap = snapshot(files)
    registry = load_registry(snap, CONFIG, known_envs=envs_of(snap))
    return dict(Renderer(snap).render(registry.get(cluster)).objects)


def deployment(objects: dict[ObjectKey, dict]) -> dict:
    return objects[ObjectKey("apps", "Deployment", "dev", "app")]


def test_values_merge_order_base_env_cluster_release() -> None:
    files = {
        **MINIMAL,
        "clusters/dev-1.yaml": "name: dev-1\nenv: dev\nkubeconfig: k\nvalues: {replicas: 3, image: {tag: '2.0'}}\n",
        "overlays/dev/release.yaml": "revision: HEAD\nvalues: {image: {tag: '3.0'}}\n",
    }
    obj = deployment(render(files))
    assert obj["spec"]["replicas"] == 3  # cluster beats env
    assert obj["spec"]["template"]["spec"]["containers"][0]["image"] == "app:3.0"  # release beats cluster


def test_namespace_defaults_to_env_and_fleet_labels_are_added() -> None:
    obj = deployment(render(MINIMAL))
    meta = obj["metadata"]
    assert meta["namespace"] == "dev"
    assert meta["labels"] == {
        "app.kubernetes.io/managed-by": "fleet",
        "fleet.dev/cluster": "dev-1",
        "fleet.dev/env": "dev",
    }
    assert meta["annotations"]["fleet.dev/source-revision"] == "test"
    assert meta["annotations"]["fleet.dev/source-path"] == "overlays/base/app.yaml"


def test_cluster_scoped_objects_never_get_a_namespace() -> None:
    files = {**MINIMAL, "overlays/base/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: x, namespace: y}\n"}
    objects = render(files)
    assert ObjectKey("", "Namespace", "", "x") in objects


def test_json_patch_with_target() -> None:
    files = {
        **MINIMAL,
        "overlays/dev/patches/p.yaml": """\
            target: {kind: Deployment, name: app}
            patch:
              - {op: replace, path: /spec/replicas, value: 7}
              - {op: add, path: /metadata/labels, value: {tier: web}}
            """,
    }
    obj = deployment(render(files))
    assert obj["spec"]["replicas"] == 7
    assert obj["metadata"]["labels"]["tier"] == "web"


def test_patch_that_matches_nothing_is_an_error_naming_the_file() -> None:
    files = {**MINIMAL, "overlays/dev/patches/p.yaml": "target: {kind: Service}\npatch: []\n"}
    with pytest.raises(RenderError, match=r"overlays/dev/patches/p.yaml.*matches no object"):
        render(files)


def test_duplicate_objects_are_an_error() -> None:
    files = {**MINIMAL, "overlays/dev/again.yaml": MINIMAL["overlays/base/app.yaml"]}
    with pytest.raises(
        RenderError, match=r"duplicate object Deployment\.apps/dev/app: defined in overlays/base/app.yaml"
    ):
        render(files)


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("{{ values.nope }}", r"overlays/base/bad.yaml:1 \(cluster dev-1\): undefined variable"),
        ("a: [1, 2\n", r"overlays/base/bad.yaml.*cluster dev-1"),
        ("- 1\n- 2\n", r"not a mapping"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n", r"field 'metadata.name'"),
        ("{% for x in %}", r"overlays/base/bad.yaml:1.*syntax error"),
        ("{{ ''.__class__.__mro__ }}", r"not allowed in the template sandbox|undefined"),
        ("{% include '../../etc/passwd' %}", r"outside overlays"),
        ("{{ 'x' * 100000000 }}", r"bad.yaml"),
        ("a: 1\na: 2\n", r"duplicate key"),
    ],
)
def test_bad_templates_name_file_line_and_cluster(text: str, pattern: str) -> None:
    with pytest.raises(RenderError, match=pattern):
        render({**MINIMAL, "overlays/base/bad.yaml": text})


def test_templates_see_cluster_and_env_but_not_the_kubeconfig() -> None:
    files = {
        **MINIMAL,
        "overlays/base/cm.yaml": """\
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: info}
            data:
              name: {{ cluster.name }}
              region: {{ cluster.labels.region }}
              env: {{ env }}
              kubeconfig: "{{ cluster.kubeconfig | default('hidden') }}"
            """,
    }
    data = render(files)[ObjectKey("", "ConfigMap", "dev", "info")]["data"]
    assert data == {"name": "dev-1", "region": "eu", "env": "dev", "kubeconfig": "hidden"}


def test_render_from_git_at_two_revisions_without_checkout(tmp_path: Path) -> None:
    repo = git_repo(tmp_path, MINIMAL)
    first = repo.head.commit.hexsha
    second = commit_files(repo, {"overlays/dev/values.yaml": "replicas: 5\n"}, "scale dev")
    source = Repository(tmp_path)
    replicas = {}
    for rev in (first, second):
        snap = source.snapshot(rev)
        registry = load_registry(snap, CONFIG, known_envs=envs_of(snap))
        obj = next(iter(Renderer(snap).render(registry.get("dev-1")).objects.values()))
        replicas[rev] = obj["spec"]["replicas"]
        assert obj["metadata"]["annotations"]["fleet.dev/source-revision"] == rev
    assert replicas == {first: 2, second: 5}
    assert repo.head.commit.hexsha == second  # nothing was checked out or moved


def test_release_pin_reads_base_at_the_pinned_revision(tmp_path: Path) -> None:
    repo = git_repo(tmp_path, MINIMAL)
    pinned = repo.head.commit.hexsha
    commit_files(repo, {"overlays/base/values.yaml": "replicas: 1\nimage: {tag: '9.9'}\n"}, "new base")
    head = commit_files(repo, {"overlays/dev/release.yaml": f"revision: {pinned}\n"}, "pin dev")
    source = Repository(tmp_path)
    snap = source.snapshot(head)
    registry = load_registry(snap, CONFIG, known_envs=envs_of(snap))
    rendered = Renderer(snap, load_revision=source.snapshot).render(registry.get("dev-1"))
    obj = next(iter(rendered.objects.values()))
    assert obj["spec"]["template"]["spec"]["containers"][0]["image"] == "app:1.0"
    assert rendered.base_revision == pinned


def test_release_pin_to_unknown_revision_is_a_clear_error(tmp_path: Path) -> None:
    repo = git_repo(tmp_path, {**MINIMAL, "overlays/dev/release.yaml": "revision: deadbeef\n"})
    source = Repository(tmp_path)
    snap = source.snapshot(repo.head.commit.hexsha)
    registry = load_registry(snap, CONFIG, known_envs=envs_of(snap))
    with pytest.raises(RenderError, match=r"overlays/dev/release.yaml, field 'revision'.*deadbeef"):
        Renderer(snap, load_revision=source.snapshot).render(registry.get("dev-1"))
