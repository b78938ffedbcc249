"""Render throughput of the example fleet, against a baseline in the same run.

The baseline renders the same templates with plain (unsandboxed) jinja2 and parses them with PyYAML's C
loader: the unavoidable work. The ratio says what fleet's sandbox, value merging, patches, labelling and
checks cost on top of it. Absolute times vary with the machine's load; the ratio is what to compare.

    .venv/bin/python bench/render.py [--clusters 200] [--repeat 5]
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import jinja2
import yaml

from fleet.registry import Cluster
from fleet.render.engine import Renderer, manifest_paths
from fleet.render.sandbox import make_environment
from fleet.source import working_tree

ROOT = Path(__file__).resolve().parents[1]


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


def fleet_render(count: int) -> int:
    snapshot = working_tree(ROOT)
    renderer = Renderer(snapshot)
    return sum(len(renderer.render(c).objects) for c in clusters(count))


def baseline_render(count: int) -> int:
    snapshot = working_tree(ROOT)
    env = jinja2.Environment()
    env.filters.update(make_environment(snapshot).filters)  # same filters (quote, to_yaml, ...), no sandbox
    templates = {p: env.from_string(snapshot.text(p)) for p in manifest_paths(snapshot, "overlays/base")}
    values = yaml.safe_load(snapshot.text("overlays/base/values.yaml"))
    total = 0
    for cluster in clusters(count):
        context = {"values": values, "cluster": cluster.template_view(), "env": cluster.env}
        for template in templates.values():
            total += sum(1 for d in yaml.load_all(template.render(context), Loader=yaml.CSafeLoader) if d)
    return total


def best_of(func, count: int, repeat: int) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    times, objects = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        objects = func(count)
        times.append(time.perf_counter() - started)
    return min(times), objects


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clusters", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    base_time, base_objects = best_of(baseline_render, args.clusters, args.repeat)
    fleet_time, fleet_objects = best_of(fleet_render, args.clusters, args.repeat)
    print(f"machine: {platform.machine()} {platform.processor() or ''} python {platform.python_version()}")
    print(f"baseline (plain jinja2 + C YAML): {base_objects} objects in {base_time * 1000:.0f} ms")
    print(f"fleet render:                     {fleet_objects} objects in {fleet_time * 1000:.0f} ms")
    print(
        f"per cluster: {fleet_time / args.clusters * 1000:.2f} ms; ratio fleet/baseline: {fleet_time / base_time:.2f}"
    )
    print(f"best of {args.repeat} runs each")


if __name__ == "__main__":
    main()
