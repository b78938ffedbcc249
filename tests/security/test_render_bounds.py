"""Templates and patches from Git cannot hang or exhaust the renderer: every render runs in a worker
process with a time and a memory bound, and what it returns is bounded JSON."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from fleet.config import FleetConfig
from fleet.errors import InputError, RenderError
from fleet.workflows.workspace import Workspace
from tests.support.fleetfiles import MINIMAL, snapshot

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 2.0
LIMITED = FleetConfig(Path("/credentials"), render_timeout=TIMEOUT, render_memory_mb=384)


def workspace(extra: dict[str, str], config: FleetConfig = LIMITED) -> Workspace:
    return Workspace(snapshot({**MINIMAL, **extra}), config)


def render_error(extra: dict[str, str]) -> str:
    ws = workspace(extra)
    started = time.monotonic()
    with pytest.raises(InputError) as info:
        ws.render(ws.registry.get("dev-1"))
    # stopped by the bound, not after the template finished (a loop here would run for hours)
    assert time.monotonic() - started < TIMEOUT + 20
    assert "dev-1" in str(info.value)
    return str(info.value)


CPU_BOMBS = {
    "nested loops": "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
    "exponential macro": (
        "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(60) | length }}"
    ),
    "loop over a huge integer's digits": "{% for i in range(10) %}{% set x = 7 ** 999 %}{% endfor %}"
    "{% for a in range(100000) %}{{ (7 ** 999) % 3 }}{% endfor %}{% for a in range(100000) %}"
    "{% for b in range(1000) %}{% endfor %}{% endfor %}",
}

MEMORY_BOMBS = {
    "%-padding": '{{ "%999999999s" % "x" }}',
    "format filter": '{{ "%999999999s" | format("x") }}',
    "center": '{{ "x" | center(999999999) }}',
    "indent": '{% set s = "x\\n" * 1000000 %}{{ s | indent(1000) | length }}',
    "join of repeated lists": '{{ ([("x" * 1000000)] * 1000) | join("") | length }}',
    "doubling with ~": '{% set ns = namespace(s="xxxxxxxx") %}{% for i in range(40) %}'
    "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}",
    "huge integers": "{% set ns = namespace(n=7) %}{% for i in range(40) %}{% set ns.n = ns.n * ns.n %}{% endfor %}"
    "{{ ns.n > 0 }}",
}


@pytest.mark.parametrize("template", CPU_BOMBS.values(), ids=CPU_BOMBS.keys())
def test_templates_that_never_end_are_stopped(template: str) -> None:
    message = render_error({"overlays/base/bomb.yaml": template})
    assert "took longer than 2s" in message or "memory" in message


@pytest.mark.parametrize("template", MEMORY_BOMBS.values(), ids=MEMORY_BOMBS.keys())
def test_templates_that_grow_without_bound_are_stopped(template: str) -> None:
    message = render_error({"overlays/base/bomb.yaml": template})
    assert any(word in message for word in ("memory", "over the limit", "took longer", "not allowed"))


def test_a_json_patch_copying_a_subtree_into_itself_is_stopped() -> None:
    ops = "\n".join(f"      - {{op: copy, from: /spec, path: /spec/x{i}}}" for i in range(64))
    patch = f"target: {{kind: Deployment, name: app}}\npatch:\n{ops}\n"
    message = render_error({"overlays/dev/patches/grow.yaml": patch})
    assert "memory" in message or "took longer" in message or "over" in message


def test_the_renderer_keeps_working_after_a_worker_was_stopped() -> None:
    render_error({"overlays/base/bomb.yaml": CPU_BOMBS["nested loops"]})
    ws = workspace({})
    rendered = ws.render(ws.registry.get("dev-1"))
    assert [k.name for k in rendered.objects] == ["app"]


def test_growing_a_list_while_iterating_it_is_refused() -> None:
    template = "{% set l = [1] %}{% for x in l %}{{ l.append(x) }}{% endfor %}"
    assert "not allowed in the template sandbox" in render_error({"overlays/base/bomb.yaml": template})


def test_values_cannot_be_changed_for_later_files() -> None:
    first = "{{ values.update({'replicas': 99}) }}"
    message = render_error({"overlays/base/000-first.yaml": first})
    assert "not allowed in the template sandbox" in message


def test_imported_template_state_does_not_leak_between_clusters() -> None:
    files = {
        "clusters/dev-2.yaml": "env: dev\nkubeconfig: k\n",
        "overlays/base/_state.yaml": "{% set counter = namespace(n=0) %}",
        "overlays/base/cm.yaml": """\
            {% import "base/_state.yaml" as state %}{% set c = state.counter %}{% set c.n = c.n + 1 %}
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: seen}
            data: {count: "{{ state.counter.n }}"}
            """,
    }
    ws = workspace(files)
    counts = []
    for cluster in ws.registry.clusters:
        objects = ws.render(cluster).objects
        counts.append(next(o for k, o in objects.items() if k.kind == "ConfigMap")["data"]["count"])
    assert counts == ["1", "1"]


def test_yaml_types_without_a_json_form_are_named() -> None:
    doc = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: odd}\ndata: {a: !!float .nan}\n"
    assert "ConfigMap/dev/odd" in render_error({"overlays/base/odd.yaml": doc})
    binary = "apiVersion: v1\nkind: Secret\nmetadata: {name: bin}\ndata: {a: !!binary aGVsbG8=}\n"
    ws = workspace({"overlays/base/bin.yaml": binary})
    secret = next(o for k, o in ws.render(ws.registry.get("dev-1")).objects.items() if k.kind == "Secret")
    assert secret["data"]["a"] == "aGVsbG8="  # as Kubernetes' own YAML reader sends !!binary


def test_render_limits_come_from_the_hub_config(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("renderTimeout: 3\nrenderMemoryMB: 512\n")
    config = FleetConfig.load(path)
    assert (config.render_timeout, config.render_memory_mb) == (3.0, 512)
    path.write_text("renderTimeout: forever\n")
    with pytest.raises(InputError, match="renderTimeout"):
        FleetConfig.load(path)
    assert issubclass(RenderError, InputError)


def test_a_worker_busy_in_an_endless_template_dies_with_its_killed_parent(tmp_path: Path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys
            sys.path.insert(0, {str(ROOT)!r})
            from pathlib import Path
            from fleet.config import FleetConfig
            from fleet.workflows.workspace import Workspace
            from tests.support.fleetfiles import MINIMAL, snapshot
            files = {{**MINIMAL, "overlays/base/bomb.yaml": {CPU_BOMBS["nested loops"]!r}}}
            ws = Workspace(snapshot(files), FleetConfig(Path("/c"), render_timeout=3600))
            ws.render(ws.registry.get("dev-1"))
            """
        )
    )
    parent = subprocess.Popen([sys.executable, str(script)])
    try:
        worker = _wait_for_child(parent.pid)
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and _alive(worker):
            time.sleep(0.2)
        assert not _alive(worker), "the worker outlived its parent"
    finally:
        parent.kill()


def _wait_for_child(pid: int) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        children = Path(f"/proc/{pid}/task/{pid}/children")
        found = children.read_text().split() if children.exists() else []
        if found:
            return int(found[0])
        time.sleep(0.1)
    raise AssertionError("the render worker did not start")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def test_a_worker_killed_from_outside_between_renders_is_replaced() -> None:
    from fleet.render.worker import RenderLimits, shared_pool

    ws = workspace({})
    ws.limits = RenderLimits(timeout=TIMEOUT, memory_mb=384, workers=1)  # type: ignore[misc]  # a pool of its own
    cluster = ws.registry.get("dev-1")
    ws.render(cluster)
    pool = shared_pool(ws.limits)
    for worker in list(pool._all):
        worker.process.kill()
        worker.process.wait(5)
    assert [k.name for k in ws.render(cluster).objects] == ["app"]
    # The dead worker whose slot served that render was reaped, not leaked: never more processes
    # than slots.
    assert len(pool._all) <= pool.limits.workers
