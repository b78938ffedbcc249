"""Rendering Helm and Kustomize sources for a fleet: N clusters, each with one chart and one kustomization,
against the tools' own time for the same work (one `helm template` and one `kubectl kustomize` per
cluster), measured in the same run.

    .venv/bin/python bench/sources.py                  # 1,000 clusters sharing their values
    .venv/bin/python bench/sources.py --distinct 100   # 100 of them with values of their own
    .venv/bin/python bench/sources.py --patch          # plus an env strategic-merge patch on the chart's
                                                       # Deployment (applied by kustomize)

- fleet cold: a fresh workspace and fresh render workers (empty caches), every cluster rendered.
- fleet warm: the same fleet rendered again by the same workers (what the hub does on every resync).
- tools: `helm template` + `kubectl kustomize` run directly, once per cluster, on a sample of clusters
  (`--sample`), scaled to the fleet: the time a renderer without a cache would need at the very least.
  With --patch, one more `kubectl kustomize` per cluster: the patch applied to the chart's Deployment.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fleet.config import FleetConfig  # noqa: E402
from fleet.render.worker import RenderLimits, shared_pool  # noqa: E402
from fleet.repo.source import Snapshot  # noqa: E402
from fleet.workflows.workspace import Workspace, render_tools  # noqa: E402
from tests.support.charts import CHART_FILES, KUSTOMIZE_FILES, kustomize_overlay, sources  # noqa: E402

CONFIG = FleetConfig(Path("/credentials"), render_timeout=60.0)


PATCH = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: shop-api}
spec:
  template:
    spec:
      containers:
        - name: api
          env: [{name: PATCHED, value: "yes"}]
"""


def fleet_files(clusters: int, distinct: int, patch: bool) -> dict[str, bytes]:
    files = {
        **CHART_FILES,
        **KUSTOMIZE_FILES,
        **kustomize_overlay("dev", "dev"),
        "overlays/base/values.yaml": "namespace: shop\nreplicas: 2\ntag: '1.0'\n",
        "overlays/dev/values.yaml": "{}\n",
        "overlays/dev/sources.yaml": sources(),
    }
    if patch:
        files["overlays/dev/patches/env.yaml"] = PATCH
    for i in range(clusters):
        # The first `distinct` clusters get a tag of their own: their chart render cannot be shared.
        values = f"values: {{tag: 'c{i}'}}\n" if i < distinct else ""
        files[f"clusters/c{i:04d}.yaml"] = f"name: c{i:04d}\nenv: dev\nkubeconfig: c.kubeconfig\n{values}"
    return {p: t.encode() for p, t in files.items()}


def render_fleet(snapshot: Snapshot) -> tuple[float, float, int]:
    """Cold and warm wall time of rendering every cluster, with fresh workers."""
    workspace = Workspace(snapshot, CONFIG)
    clusters = workspace.registry.clusters
    started = time.perf_counter()
    rendered = workspace.render_all(list(clusters))
    cold = time.perf_counter() - started
    started = time.perf_counter()
    workspace.render_all(list(clusters))
    warm = time.perf_counter() - started
    shared_pool(RenderLimits(timeout=CONFIG.render_timeout, memory_mb=CONFIG.render_memory_mb)).close()
    return cold, warm, sum(len(r.objects) for r in rendered)


def tools_per_cluster(snapshot: Snapshot, sample: int, patch: bool) -> float:
    """Seconds of one `helm template` plus one `kubectl kustomize` for one cluster (mean of ``sample``)."""
    tools = render_tools(CONFIG)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for path, content in snapshot.files.items():
            if path.startswith("overlays/"):
                (root / path).parent.mkdir(parents=True, exist_ok=True)
                (root / path).write_bytes(content)
        values = root / "values.yaml"
        started = time.perf_counter()
        for i in range(sample):
            values.write_text(f"replicaCount: 2\nimage: {{tag: 'c{i}'}}\ngreeting: hello\n")
            chart = str(root / "overlays/base/charts/shop-api")
            helm = [tools.helm, "template", "shop-api", chart, "--namespace", "shop", "--include-crds"]
            rendered = subprocess.run([*helm, "--values", str(values)], check=True, capture_output=True).stdout
            subprocess.run(
                [tools.kubectl, "kustomize", str(root / "overlays/dev/kustomize")], check=True, capture_output=True
            )
            if patch:
                (root / "p/resources.yaml").parent.mkdir(exist_ok=True)
                (root / "p/resources.yaml").write_bytes(rendered)
                (root / "p/patch.yaml").write_text(PATCH)
                (root / "p/kustomization.yaml").write_text(
                    "resources: [resources.yaml]\npatches: [{path: patch.yaml}]\n"
                )
                subprocess.run([tools.kubectl, "kustomize", str(root / "p")], check=True, capture_output=True)
        return (time.perf_counter() - started) / sample


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--distinct", type=int, default=0, help="clusters whose chart values are their own")
    parser.add_argument("--sample", type=int, default=40, help="clusters the tools baseline runs for")
    parser.add_argument("--patch", action="store_true", help="an env strategic-merge patch on the chart's Deployment")
    args = parser.parse_args()
    snapshot = Snapshot("bench", fleet_files(args.clusters, args.distinct, args.patch))
    tools = render_tools(CONFIG)
    if not (tools.helm and tools.kubectl):
        sys.exit("helm or kubectl missing: run `fleet lab build` first")
    per_cluster = tools_per_cluster(snapshot, args.sample, args.patch)
    cold, warm, objects = render_fleet(snapshot)
    baseline = per_cluster * args.clusters
    workers = RenderLimits().workers
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}")
    patched = ", env strategic-merge patch" if args.patch else ""
    own = f"{args.distinct} with values of their own{patched}"
    print(f"{args.clusters} clusters ({own}), {objects} objects, {workers} workers")
    print(f"tools, one run per cluster (sequential, {args.sample} sampled): {per_cluster * 1000:.0f} ms a cluster")
    print(f"  -> {baseline:.1f}s for the fleet; / {workers} cores at best: {baseline / workers:.1f}s")
    print(f"fleet cold (fresh workers): {cold:.1f}s  ({baseline / cold:.1f}x the sequential tools)")
    print(f"fleet warm (resync):        {warm:.1f}s  ({baseline / warm:.1f}x the sequential tools)")


if __name__ == "__main__":
    main()
