"""Tool output is cached by exact inputs: in a worker's memory and in the directory the workers of one
process share, so a cluster rendered by another worker last time runs no tool again."""

from __future__ import annotations

from pathlib import Path

from fleet.render.sources import HelmSource, SourceRunner
from fleet.render.tools import Tools
from tests.support.fleetfiles import snapshot

CHART = "overlays/base/charts/c"


def counting_helm(tmp_path: Path) -> tuple[Path, Path]:
    """A stand-in for helm that counts its runs and prints one ConfigMap."""
    runs = tmp_path / "runs"
    script = tmp_path / "helm"
    script.write_text(
        f"#!/bin/sh\necho run >> {runs}\nprintf 'apiVersion: v1\\nkind: ConfigMap\\nmetadata: {{name: made}}\\n'\n"
    )
    script.chmod(0o755)
    return script, runs


def produce(runner: SourceRunner, greeting: str) -> list[dict[str, object]]:
    files = {f"{CHART}/Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\n"}
    source = HelmSource(CHART, "c", "shop", True, {"greeting": greeting})
    produced = runner.produce(
        source, snapshot(files), path="overlays/dev/sources.yaml", cluster="dev-1", kube_version=""
    )
    return produced.objects


def test_a_tool_runs_once_per_distinct_input_across_workers(tmp_path: Path) -> None:
    helm, runs = counting_helm(tmp_path)
    shared = tmp_path / "shared"
    shared.mkdir()
    tools = Tools(helm=str(helm), shared_cache=str(shared))
    first, second = SourceRunner(tools), SourceRunner(tools)  # two workers of one process
    assert produce(first, "hi") == [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "made"}}]
    produce(first, "hi")  # this worker's memory
    produce(second, "hi")  # the other worker: the shared directory
    assert runs.read_text().count("run") == 1
    produce(second, "bonjour")  # another input: the tool runs again
    assert runs.read_text().count("run") == 2
    assert len(list(shared.glob("*.yaml"))) == 2 and not list(shared.glob(".*"))  # whole files only
