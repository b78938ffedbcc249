"""Env strategic-merge patches go through kustomize's schema-aware merge (the lab's pinned kubectl): merge
keys per field as the Kubernetes schema declares them, lists of kinds without a schema replaced, patch
directives, YAML typing kept, errors naming the patch file and the cluster."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

from fleet.config import FleetConfig
from fleet.errors import RenderError
from fleet.model.objects import ObjectKey
from fleet.workflows.workspace import Workspace
from tests.support.fleetfiles import MINIMAL, snapshot

CONFIG = FleetConfig(Path("/credentials"))

APP = """\
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: app}
    spec:
      replicas: 2
      template:
        spec:
          containers:
            - name: app
              image: app:1.0
              args: [--port, "8080", --verbose]
              ports: [{name: http, containerPort: 8080}]
              env: [{name: A, value: "1"}, {name: MODE, value: "on"}]
              volumeMounts: [{name: data, mountPath: /data}]
            - name: sidecar
              image: side:1
          volumes: [{name: data, emptyDir: {}}]
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: app}
    spec:
      ports: [{name: http, port: 80, targetPort: http}]
    ---
    apiVersion: example.com/v1
    kind: Widget
    metadata: {name: w}
    spec:
      items: [{name: a, size: 1}, {name: b, size: 2}]
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: odd}
    data: {a: "1_000", b: "1:20", c: "=", d: "2001-01-01", e: "0o17", f: "yes",
           m: "1e3", n: "0x1F", o: ".5", p: "1.", q: "+1"}
    """


def render(patch: str, cluster: str = "dev-1") -> dict[ObjectKey, dict[str, Any]]:
    files = {**MINIMAL, "overlays/base/app.yaml": APP, "overlays/dev/patches/p.yaml": patch}
    ws = Workspace(snapshot(files), CONFIG)
    return dict(ws.render(ws.registry.get(cluster)).objects)


def deployment(objects: dict[ObjectKey, dict[str, Any]]) -> dict[str, Any]:
    return objects[ObjectKey("apps", "Deployment", "dev", "app")]


def containers(objects: dict[ObjectKey, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in deployment(objects)["spec"]["template"]["spec"]["containers"]}


def smp(body: str, kind: str = "Deployment", api: str = "apps/v1", name: str = "app") -> str:
    return f"apiVersion: {api}\nkind: {kind}\nmetadata: {{name: {name}}}\n" + textwrap.dedent(body)


def test_containers_env_and_ports_merge_on_the_keys_the_schema_declares() -> None:
    patch = smp("""\
        spec:
          template:
            spec:
              containers:
                - name: app
                  env: [{name: B, value: "2"}]
                  ports: [{name: metrics, containerPort: 9090}]
                  volumeMounts: [{name: data, mountPath: /data, readOnly: true}]
        """)
    app = containers(render(patch))["app"]
    assert app["image"] == "app:1.0"
    assert {e["name"]: e["value"] for e in app["env"]} == {"A": "1", "MODE": "on", "B": "2"}
    assert sorted(p["containerPort"] for p in app["ports"]) == [8080, 9090]
    assert app["volumeMounts"] == [{"name": "data", "mountPath": "/data", "readOnly": True}]
    assert set(containers(render(patch))) == {"app", "sidecar"}


def test_a_service_port_merges_on_its_port_number() -> None:
    patch = smp("spec:\n  ports: [{port: 80, targetPort: 8081}, {name: metrics, port: 9090}]\n", "Service", "v1")
    ports = render(patch)[ObjectKey("", "Service", "dev", "app")]["spec"]["ports"]
    assert sorted((p["port"], p.get("name"), p.get("targetPort")) for p in ports) == [
        (80, "http", 8081),
        (9090, "metrics", None),
    ]


def test_args_are_replaced_as_a_whole() -> None:
    patch = smp("spec:\n  template:\n    spec:\n      containers:\n        - name: app\n          args: [--quiet]\n")
    assert containers(render(patch))["app"]["args"] == ["--quiet"]


def test_a_list_of_a_kind_without_a_schema_is_replaced() -> None:
    patch = smp("spec:\n  items: [{name: b, size: 3}]\n", "Widget", "example.com/v1", "w")
    widget = render(patch)[ObjectKey("example.com", "Widget", "dev", "w")]
    assert widget["spec"]["items"] == [{"name": "b", "size": 3}]


def test_patch_directives_and_null_delete() -> None:
    patch = smp("""\
        spec:
          replicas: null
          template:
            spec:
              containers:
                - {name: sidecar, $patch: delete}
        """)
    app = deployment(render(patch))
    assert "replicas" not in app["spec"]
    assert [c["name"] for c in app["spec"]["template"]["spec"]["containers"]] == ["app"]


def test_a_patch_can_delete_a_whole_object() -> None:
    objects = render(smp("$patch: delete\n", "ConfigMap", "v1", "odd"))
    assert ObjectKey("", "ConfigMap", "dev", "odd") not in objects
    assert ObjectKey("apps", "Deployment", "dev", "app") in objects


def test_values_keep_their_yaml_types_through_kustomize() -> None:
    objects = render(smp("data: {g: added}\n", "ConfigMap", "v1", "odd"))
    data = objects[ObjectKey("", "ConfigMap", "dev", "odd")]["data"]
    odd = {"a": "1_000", "b": "1:20", "c": "=", "d": "2001-01-01", "e": "0o17", "f": "yes"}
    assert data == {**odd, "m": "1e3", "n": "0x1F", "o": ".5", "p": "1.", "q": "+1", "g": "added"}
    app = containers(render(smp("spec: {minReadySeconds: 5}\n")))["app"]
    assert app["ports"][0]["containerPort"] == 8080 and app["env"][1]["value"] == "on"


def test_patches_of_one_file_apply_in_order_across_kinds() -> None:
    patch = (
        smp("spec: {replicas: 5}\n")
        + "---\ntarget: {kind: Deployment, name: app}\npatch:\n  - {op: replace, path: /spec/replicas, value: 6}\n"
        + "---\n"
        + smp("spec: {minReadySeconds: 3}\n")
    )
    spec = deployment(render(patch))["spec"]
    assert (spec["replicas"], spec["minReadySeconds"]) == (6, 3)


def test_a_patch_names_its_target_by_group_and_kind_whatever_the_version() -> None:
    patch = smp("spec: {replicas: 9}\n", api="apps/v1beta2")
    assert deployment(render(patch))["spec"]["replicas"] == 9


def test_a_patch_in_the_objects_namespace_matches_when_written_explicitly() -> None:
    patch = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app, namespace: dev}\nspec: {replicas: 4}\n"
    assert deployment(render(patch))["spec"]["replicas"] == 4


@pytest.mark.parametrize(
    ("patch", "pattern"),
    [
        (smp("spec: {replicas: 1}\n", name="nope"), r"patch 1: Deployment\.apps/dev/nope matches no object"),
        (
            smp("spec:\n  template:\n    spec:\n      containers: not-a-list\n"),
            r"kustomize patch failed: .+",
        ),
        (smp("spec: {replicas: 1}\n", "Deployment", "apps/v1", "app") + "---\n" + "kind: [x]\n", r"kind|apiVersion"),
    ],
    ids=["no target", "wrong type", "malformed document"],
)
def test_a_bad_patch_is_one_line_naming_file_and_cluster(patch: str, pattern: str) -> None:
    with pytest.raises(RenderError) as caught:
        render(patch)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("overlays/dev/patches/p.yaml") and "dev-1" in message
    assert re.search(pattern, message), message
