"""Render throughput: N clusters x M objects from one revision, against a baseline in the same run.

The baseline renders the same templates with plain (unsandboxed) jinja2 and parses them with PyYAML's C
loader: the unavoidable work. fleet adds the sandbox, values merging, labelling, namespace defaulting and
checks. Absolute times vary with the machine's load; the ratio is what to compare.

    .venv/bin/python bench/render.py                       # 1,000 clusters x 50 objects (synthetic fleet)
    .venv/bin/python bench/render.py --example --clusters 300   # the example fleet of overlays/ (no sources)
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import time
from collections.abc import Callable
from pathlib import Path

import jinja2
import yaml

from fleet.config import FleetConfig
from fleet.errors import FleetError
from fleet.model.cluster import Cluster
from fleet.render.engine import Renderer, manifest_paths
from fleet.render.sandbox import make_environment
from fleet.render.worker import RenderLimits, shared_pool
from fleet.repo.source import Snapshot, working_tree
from fleet.runtime import tune_garbage_collector
from fleet.workflows.workspace import Workspace, render_tools

ROOT = Path(__file__).resolve().parents[1]

# Ten objects per file, five files: fifty objects per cluster, templated like real manifests.
DOC = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-NUM
  labels: {app: app-NUM, tier: "{{ values.tier }}"}
spec:
  replicas: {{ values.replicas }}
  selector: {matchLabels: {app: app-NUM}}
  template:
    metadata: {labels: {app: app-NUM}}
    spec:
      containers:
        - name: app
          image: "{{ values.image }}:{{ values.tag }}"
          env:
            - {name: REGION, value: "{{ cluster.labels.region }}"}
            - {name: CLUSTER, value: "{{ cluster.name }}"}
          resources: {requests: {cpu: 100m, memory: 64Mi}}
"""


def synthetic(objects: int) -> Snapshot:
    files: dict[str, bytes] = {
        "overlays/base/values.yaml": b"replicas: 2\nimage: example/app\ntag: '1.0'\ntier: web\n",
        "overlays/dev/values.yaml": b"replicas: 1\n",
        "overlays/staging/values.yaml": b"{}\n",
        "overlays/prod/values.yaml": b"replicas: 3\n",
    }
    per_file = 10
    for f in range(0, objects, per_file):
        docs = "---\n".join(DOC.replace("NUM", str(i)) for i in range(f, min(f + per_file, objects)))
        files[f"overlays/base/app-{f // per_file}.yaml"] = docs.encode()
    return Snapshot("bench", files)


def example() -> Snapshot:
    """The example fleet of overlays/ without its Helm and Kustomize sources (bench/sources.py measures
    those; this bench is about templates and YAML, as its baseline is)."""
    tree = working_tree(ROOT)
    files = {path: data for path, data in tree.files.items() if not path.endswith("/sources.yaml")}
    return Snapshot(tree.revision, files, tree.root)


def clusters(count: int) -> list[Cluster]:
    envs = ("dev", "staging", "prod")
    return [
        Cluster(
            name=f"c-{i}",
            env=envs[i % 3],
            labels={"region": "eu-west", "wave": str(i % 3 + 1)},
            kubeconfig=Path("/dev/null"),
            context=None,
        )
        for i in range(count)
    ]


def fleet_render(snapshot: Snapshot, count: int) -> int:
    """The engine in this process, unbounded: what fleet did before rendering moved to workers."""
    # One per revision: templates compile once, blobs parse once. Tools for the example fleet's prod patches.
    renderer = Renderer(snapshot, tools=render_tools(FleetConfig(Path("/nonexistent"))))
    return sum(len(renderer.render(c).objects) for c in clusters(count))


def bounded(workers: int) -> Callable[[Snapshot, int], int]:
    """What fleet does: every cluster rendered in worker processes under the time and memory limits."""

    limits = RenderLimits(workers=workers)
    warm = Workspace(Snapshot("warm-up", {}), FleetConfig(Path("/nonexistent")))
    for cluster in clusters(workers):  # the worker processes start once per hub, not per revision
        with contextlib.suppress(FleetError):
            shared_pool(limits).render(warm.bundle, cluster)

    def run(snapshot: Snapshot, count: int) -> int:
        # A new snapshot token per run: workers get the files and compile the templates again, as on a
        # new revision.
        workspace = Workspace(Snapshot(snapshot.revision, snapshot.files), FleetConfig(Path("/nonexistent")))
        workspace.limits = limits  # type: ignore[misc]  # the cached property, set for this run
        return sum(len(r.objects) for r in workspace.render_all(clusters(count)))

    return run


def baseline_render(snapshot: Snapshot, count: int) -> int:
    env = jinja2.Environment()
    env.filters.update(make_environment(snapshot).filters)  # same filters (quote, to_yaml, ...), no sandbox
    templates = [env.from_string(snapshot.text(p)) for p in manifest_paths(snapshot, "overlays/base")]
    values = yaml.safe_load(snapshot.text("overlays/base/values.yaml"))
    total = 0
    for cluster in clusters(count):
        context = {"values": values, "cluster": cluster.template_view(), "env": cluster.env}
        for template in templates:
            total += sum(1 for d in yaml.load_all(template.render(context), Loader=yaml.CSafeLoader) if d)
    return total


def best_of(
    funcs: list[Callable[[Snapshot, int], int]], snapshot: Snapshot, count: int, repeat: int
) -> list[tuple[float, int]]:
    """Best time of each function, the functions interleaved round by round: a machine that slows down for
    a while (shared cores) slows every method alike instead of the one that happened to run then."""
    times: list[list[float]] = [[] for _ in funcs]
    objects = [0 for _ in funcs]
    for _ in range(repeat):
        for index, func in enumerate(funcs):
            started = time.perf_counter()
            objects[index] = func(snapshot, count)
            times[index].append(time.perf_counter() - started)
    return [(min(t), n) for t, n in zip(times, objects, strict=True)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--objects", type=int, default=50, help="objects per cluster (synthetic fleet)")
    parser.add_argument("--example", action="store_true", help="render the example fleet of overlays/ instead")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    snapshot = example() if args.example else synthetic(args.objects)
    tune_garbage_collector()  # as fleet's processes run (the baseline, in this process, gets it too)
    methods = [baseline_render, fleet_render, bounded(1), bounded(RenderLimits().workers)]
    results = best_of(methods, snapshot, args.clusters, args.repeat)
    (base_time, base_objects), (fleet_time, fleet_objects), (one_time, one_objects), (pool_time, pool_objects) = results
    print(f"machine: {platform.machine()}, {platform.system()}, python {platform.python_version()}")
    for label, count, seconds in (
        ("baseline (plain jinja2 + C YAML)", base_objects, base_time),
        ("fleet engine in-process (unbounded)", fleet_objects, fleet_time),
        ("fleet bounded, 1 worker", one_objects, one_time),
        (f"fleet bounded, {RenderLimits().workers} workers (default)", pool_objects, pool_time),
    ):
        print(f"{label:40} {count} objects in {seconds:.2f}s = {count / seconds:,.0f}/s")
    print(f"ratio in-process/baseline: {fleet_time / base_time:.2f} (best of {args.repeat})")
    print(f"throughput bounded(1 worker)/in-process: {fleet_time / one_time:.2f}")
    print(f"throughput bounded(default)/in-process: {fleet_time / pool_time:.2f}")


if __name__ == "__main__":
    main()
