"""Sync throughput on real lab clusters, against two baselines in the same run.

    .venv/bin/python bench/sync.py [--clusters 10] [--objects 100] [--runs 5] [--profile sync.prof]

Starts a lab of N clusters (its own directory, removed afterwards) and syncs M objects (ConfigMaps,
Services and Deployments) to every cluster four ways, each into a namespace of its own:

  raw      a minimal client: one server-side apply per object, the same concurrency (8 per cluster, all
           clusters at once), nothing else. The lower bound for any tool that uses server-side apply.
  fleet    `fleet sync` from nothing (discovery, LIST prefetch, inventory, apply, health).
  no-op    `fleet sync` again with nothing changed.
  kubectl  `kubectl apply --server-side` (built from the lab's pinned module) looped over the clusters.

Ratios are what count: the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from fleet.config import FleetConfig
from fleet.engine.manager import ResourceManager
from fleet.engine.sync import ClusterSync, SyncOptions
from fleet.kube.api import ApiLimits
from fleet.kube.client import open_cluster
from fleet.lab.local import LocalLab
from fleet.lab.pki import CertPair
from fleet.lab.probe import ssl_context
from fleet.lab.topology import ClusterSpec
from fleet.lab.versions import bin_dir
from fleet.model.cluster import Cluster
from fleet.model.objects import ObjectKey
from fleet.model.ordering import apply_order
from fleet.model.rendered import RenderedCluster
from fleet.runtime import tune_garbage_collector
from fleet.workflows.syncing import sync_fleet

IN_FLIGHT = 8
NOOP_RUNS = 3


def objects(namespace: str, count: int) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}]
    labels = {"app.kubernetes.io/managed-by": "fleet", "fleet.dev/cluster": "CLUSTER", "fleet.dev/env": "bench"}
    for i in range(count):
        meta = {"name": f"obj-{i:04d}", "namespace": namespace, "labels": dict(labels)}
        match i % 3:
            case 0:
                result.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"i": str(i)}})
            case 1:
                # Headless: many runs would use up the lab's Service IP range (no controller frees them).
                spec = {"clusterIP": "None", "selector": {"app": meta["name"]}, "ports": [{"name": "http", "port": 80}]}
                result.append({"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec})
            case _:
                pod = {
                    "metadata": {"labels": {"app": meta["name"]}},
                    "spec": {"containers": [{"name": "a", "image": "x:1"}]},
                }
                spec = {"replicas": 1, "selector": {"matchLabels": {"app": meta["name"]}}, "template": pod}
                result.append({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": spec})
    return result


def for_cluster(objs: list[dict[str, Any]], cluster: str) -> list[dict[str, Any]]:
    """The objects as one cluster gets them (its name in a label): prepared before any clock starts."""
    out = []
    for obj in objs:
        copy = json.loads(json.dumps(obj))
        if "labels" in copy["metadata"]:
            copy["metadata"]["labels"]["fleet.dev/cluster"] = cluster
        out.append(copy)
    return out


def path_of(obj: dict[str, Any]) -> str:
    kind, meta = obj["kind"], obj["metadata"]
    plural = {"Namespace": "namespaces", "ConfigMap": "configmaps", "Service": "services", "Deployment": "deployments"}[
        kind
    ]
    prefix = "/apis/apps/v1" if kind == "Deployment" else "/api/v1"
    if kind == "Namespace":
        return f"{prefix}/namespaces/{meta['name']}"
    return f"{prefix}/namespaces/{meta['namespace']}/{plural}/{meta['name']}"


async def raw_apply(lab: LocalLab, clusters: list[str], objs: list[dict[str, Any]]) -> tuple[float, float, int]:
    """Wall seconds, client CPU seconds and requests of the minimal client applying ``objs`` everywhere."""
    ca = CertPair(lab.paths.pki / "ca.crt", lab.paths.pki / "ca.key")
    admin = CertPair(lab.paths.pki / "admin.crt", lab.paths.pki / "admin.key")
    servers = {e.name: e.server for e in lab.endpoints()}
    sent = 0
    prepared = {cluster: for_cluster(objs, cluster) for cluster in clusters}
    started, cpu = time.perf_counter(), time.process_time()
    # A TLS context per cluster, as any client of real clusters needs (each has its own CA and
    # credentials); the lab's clusters happen to share theirs, which a lower bound must not exploit.
    contexts = {cluster: ssl_context(ca, admin) for cluster in clusters}
    # No limit on connections in all (aiohttp's default is 100): 8 per cluster at once, as fleet has.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def apply(cluster: str, obj: dict[str, Any], slots: asyncio.Semaphore) -> None:
            nonlocal sent
            async with slots:
                url = servers[cluster] + path_of(obj)
                headers = {"Content-Type": "application/apply-patch+yaml"}
                params = {"fieldManager": "raw", "force": "true"}
                sent += 1
                async with session.patch(
                    url, json=obj, headers=headers, params=params, ssl=contexts[cluster]
                ) as response:
                    if response.status >= 300:
                        raise RuntimeError(f"{cluster}: {response.status} {await response.text()}")

        async def one_cluster(cluster: str) -> None:
            slots = asyncio.Semaphore(IN_FLIGHT)
            mine = prepared[cluster]
            await apply(cluster, mine[0], slots)  # the namespace first
            await asyncio.gather(*(apply(cluster, o, slots) for o in mine[1:]))

        await asyncio.gather(*(one_cluster(c) for c in clusters))
    return time.perf_counter() - started, time.process_time() - cpu, sent


def rendered(lab: LocalLab, clusters: list[str], objs: list[dict[str, Any]]) -> list[RenderedCluster]:
    result = []
    for name in clusters:
        cluster = Cluster(name=name, env="bench", labels={}, kubeconfig=lab.paths.kubeconfig(name), context=name)
        mine = {ObjectKey.of(o): o for o in for_cluster(objs, name)}
        ordered = dict(sorted(mine.items(), key=lambda kv: apply_order(kv[0], kv[1])))
        result.append(RenderedCluster(cluster, "bench", "bench", ordered))
    return result


def kubectl_apply(lab: LocalLab, clusters: list[str], objs: list[dict[str, Any]], work: Path) -> float:
    kubectl = bin_dir() / "kubectl"
    files = {}
    for cluster in clusters:
        files[cluster] = work / f"{cluster}.yaml"
        files[cluster].write_text(yaml.safe_dump_all(for_cluster(objs, cluster)))
    started = time.perf_counter()
    for cluster in clusters:
        subprocess.run(
            [
                str(kubectl),
                "--kubeconfig",
                str(lab.paths.kubeconfig(cluster)),
                "apply",
                "--server-side",
                "--field-manager=kubectl-bench",
                "-f",
                str(files[cluster]),
            ],
            check=True,
            capture_output=True,
        )
    return time.perf_counter() - started


def run_inventory(number: int) -> str:
    return f"bench-inv-{number}"


@dataclass
class Run:
    raw: float  # wall seconds
    raw_cpu: float  # this process's CPU seconds: the client's, the apiservers are other processes
    raw_requests: int
    fleet: float
    fleet_cpu: float
    fleet_requests: int

    @property
    def ratio(self) -> float:
        return self.fleet / self.raw


async def one_run(lab: LocalLab, names: list[str], config: FleetConfig, count: int, number: int) -> Run:
    """raw and fleet, each from nothing into namespaces of this run's own."""
    raw, raw_cpu, raw_requests = await raw_apply(lab, names, objects(f"bench-raw-{number}", count))
    plan = rendered(lab, names, objects(f"bench-fleet-{number}", count))
    started, cpu = time.perf_counter(), time.process_time()
    # An inventory per run: a run must not prune the previous run's objects (that is not "from nothing").
    results = await sync_fleet(plan, config, SyncOptions(inventory=run_inventory(number)))
    fleet, fleet_cpu = time.perf_counter() - started, time.process_time() - cpu
    assert all(not r.failed for r in results), [r.error for r in results]
    return Run(raw, raw_cpu, raw_requests, fleet, fleet_cpu, sum(r.requests for r in results))


async def profiled_sync(lab: LocalLab, names: list[str], config: FleetConfig, count: int, out: Path) -> None:
    """One more full sync under cProfile, its breakdown by stage printed and its stats written to ``out``."""
    plan = rendered(lab, names, objects("bench-profile", count))
    options = SyncOptions(inventory="bench-inv-profile")
    profile = cProfile.Profile(time.process_time)  # CPU time: waiting for the apiservers is not the client's
    profile.enable()
    await sync_fleet(plan, config, options)
    profile.disable()
    profile.dump_stats(out)
    objects_applied = len(names) * (count + 1)
    print(f"profile of a full sync ({objects_applied} objects), client CPU per object by stage:")
    for stage, seconds in stages(pstats.Stats(profile)):
        print(f"  {stage:44} {seconds * 1e6 / objects_applied:7.0f} us")
    print(f"  (stats in {out}: python -m pstats {out})")
    noop = cProfile.Profile(time.process_time)
    noop.enable()
    await sync_fleet(plan, config, options)
    noop.disable()
    noop_out = out.with_suffix(".noop" + out.suffix)
    noop.dump_stats(noop_out)
    print("profile of the no-op sync that follows, client CPU per object by stage:")
    for stage, seconds in stages(pstats.Stats(noop)):
        print(f"  {stage:44} {seconds * 1e6 / objects_applied:7.0f} us")
    print(f"  (stats in {noop_out})")


# Stages by where the time is spent (self time of functions, by file), first match wins.
STAGES = (
    ("TLS (ssl)", ("ssl.py", "_ssl", "sslproto.py")),
    ("HTTP client (aiohttp)", ("aiohttp/",)),
    ("JSON encode/decode", ("json/", "_json")),
    ("kubernetes_asyncio (config, client set-up)", ("kubernetes_asyncio/",)),
    ("comparison (normalise, diffs, digests)", ("fleet/model/compare.py", "hashlib")),
    ("fleet engine (sync, apply, dry run, prune)", ("fleet/engine/",)),
    ("fleet kube (requests, errors, discovery)", ("fleet/kube/",)),
    ("fleet model and other fleet code", ("fleet/",)),
    ("YAML", ("yaml/",)),
    ("asyncio event loop", ("asyncio/", "selectors.py", "select.")),
)


def stages(stats: pstats.Stats) -> list[tuple[str, float]]:
    totals: dict[str, float] = {}
    for (filename, _line, function), (_calls, _primitive, own, _cumulative, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        where = f"{filename}:{function}"
        stage = next((name for name, marks in STAGES if any(m in where for m in marks)), "other (Python runtime)")
        totals[stage] = totals.get(stage, 0.0) + own
    return sorted(totals.items(), key=lambda kv: -kv[1])


async def main_async(args: argparse.Namespace) -> None:
    root = Path(tempfile.mkdtemp(prefix="fleet-bench-"))
    lab = LocalLab(root / "lab")
    names = [f"b{i}" for i in range(1, args.clusters + 1)]
    try:
        started = time.perf_counter()
        # Apiserver-only clusters: no controllers spend the two cores on the Deployments' pods.
        await lab.up([ClusterSpec(n, ()) for n in names], log=lambda _m: None)
        print(f"lab: {len(names)} clusters ready in {time.perf_counter() - started:.1f}s, {lab_rss_mb(lab)} MiB RSS")
        config = FleetConfig(lab.paths.kubeconfigs)
        await raw_apply(lab, names, objects("bench-warm-up", 10))  # TLS sessions, caches: not measured
        runs = [await one_run(lab, names, config, args.objects, number) for number in range(args.runs)]
        fleet_objs = objects(f"bench-fleet-{args.runs - 1}", args.objects)
        last = SyncOptions(inventory=run_inventory(args.runs - 1))
        noop_times = []
        for _ in range(NOOP_RUNS):  # fresh clients each time, as a `fleet sync` process has
            plan = rendered(lab, names, fleet_objs)
            started = time.perf_counter()
            noop = await sync_fleet(plan, config, last)
            noop_times.append(time.perf_counter() - started)
            assert all(r.writes == 0 for r in noop), [r.writes for r in noop]
        noop_time = statistics.median(noop_times)
        # The hub keeps one client per cluster: its periodic no-op resync skips client and TLS set-up.
        fresh = rendered(lab, names, fleet_objs)
        apis = [await open_cluster(r.cluster, config, ApiLimits()) for r in fresh]
        try:
            kept = [(ResourceManager(a), r) for a, r in zip(apis, fresh, strict=True)]
            await asyncio.gather(*(ClusterSync(a, r, last).run() for a, r in kept))  # warm
            started = time.perf_counter()
            await asyncio.gather(*(ClusterSync(a, r, last).run() for a, r in kept))
            hub_noop_time = time.perf_counter() - started
        finally:
            for api in apis:
                await api.close()
        kubectl_time = kubectl_apply(lab, names, objects("bench-kubectl", args.objects), root)
        if args.profile:
            await profiled_sync(lab, names, config, args.objects, Path(args.profile))
        total = len(names) * (args.objects + 1)
        full = statistics.median(r.fleet for r in runs)
        ratios = sorted(r.ratio for r in runs)
        cpu_ratios = sorted(r.fleet_cpu / r.raw_cpu for r in runs)
        print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}")
        print(f"{len(names)} clusters x {args.objects + 1} objects = {total} objects, {args.runs} runs (median)")
        raw = statistics.median(r.raw for r in runs)
        raw_cpu = statistics.median(r.raw_cpu for r in runs)
        fleet_cpu = statistics.median(r.fleet_cpu for r in runs)
        print(f"raw SSA client (lower bound): {raw:7.2f}s  {total / raw:8.0f} objects/s", end="")
        print(f"  client CPU {raw_cpu:6.2f}s = {raw_cpu * 1e6 / total:5.0f} us/object, {runs[0].raw_requests} requests")
        print(f"fleet sync (from nothing):    {full:7.2f}s  {total / full:8.0f} objects/s", end="")
        print(
            f"  client CPU {fleet_cpu:6.2f}s = {fleet_cpu * 1e6 / total:5.0f} us/object, "
            f"{runs[-1].fleet_requests} requests ({runs[0].fleet_requests} in the first run, which also creates "
            "the inventory's namespace)"
        )
        print(
            f"fleet sync (no-op):           {noop_time:7.2f}s  requests/cluster {noop[0].requests}, writes 0 "
            f"(median of {NOOP_RUNS}: {', '.join(f'{t:.2f}' for t in sorted(noop_times))})"
        )
        print(f"fleet no-op, clients kept:    {hub_noop_time:7.2f}s  (as the hub resyncs)")
        print(f"kubectl apply --server-side:  {kubectl_time:7.2f}s  (one cluster after another)")
        print(
            f"fleet/raw wall {statistics.median(ratios):.2f} (runs: {', '.join(f'{r:.2f}' for r in ratios)}); "
            f"fleet/raw client CPU {statistics.median(cpu_ratios):.2f} ({', '.join(f'{r:.2f}' for r in cpu_ratios)})"
        )
        print(
            f"ratios: kubectl/fleet {kubectl_time / full:.1f}; no-op/full {noop_time / full:.2f}; "
            f"hub no-op/full {hub_noop_time / full:.2f}"
        )
    finally:
        lab.down()
        shutil.rmtree(root, ignore_errors=True)


def lab_rss_mb(lab: LocalLab) -> int:
    """Resident memory of the lab's processes (etcd, apiservers), from /proc."""
    total = 0
    for name in lab.supervisor.known():
        pid = lab.supervisor.pid(name)
        with contextlib.suppress(OSError, StopIteration):
            status = Path(f"/proc/{pid}/status").read_text()
            total += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return total // 1024


def main() -> None:
    tune_garbage_collector()  # as the fleet CLI and hub run; the raw client, in this process, gets it too
    parser = argparse.ArgumentParser()
    parser.add_argument("--clusters", type=int, default=10)
    parser.add_argument("--objects", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5, help="full syncs of raw and fleet, interleaved")
    parser.add_argument("--profile", default="", help="also profile one full sync; write its stats to this file")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
