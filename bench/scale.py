"""The hub at scale: N real apiservers, one hub and then three replicas sharing them through Leases.

    .venv/bin/python bench/scale.py [--clusters 50] [--objects 10] [--edits 100] [--idle 300]

Starts N apiserver-only lab clusters plus a management cluster (its own directory, removed afterwards),
with the apiservers' audit logs on, so that writes are counted by the servers, not by the hub. For one
hub, then for three replicas (each phase into a namespace and inventory of its own, so both start from
nothing), it prints:

  first sync   from starting the hub process(es) to every cluster Synced in the report
  drift        latency from a foreign edit's API call returning to the report (read from replica 0,
               whoever holds the cluster) showing it, over ``--edits`` edits on random clusters; each
               edit is reverted and its drift seen gone before the next
  RSS          resident memory of each hub process, per managed cluster
  idle CPU     of the hub processes over the idle window, as % of one core
  idle writes  write requests to the workload clusters during the idle window (from the audit logs;
               dry runs excluded), and Lease writes to the management cluster per minute
  failover     (three replicas) from SIGKILL of the replica holding most clusters to every cluster it
               held being reported again by a survivor
"""

from __future__ import annotations

import argparse
import asyncio
import calendar
import json
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import git

from fleet.lab.local import LocalLab
from fleet.lab.topology import ClusterSpec

HERE = Path(__file__).resolve().parent
LEASE = ("10s", "2s")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fleet_repo(path: Path, names: list[str], namespace: str, objects: int, *, enabled: bool = True) -> Path:
    files = {
        "overlays/base/values.yaml": f"namespace: {namespace}\ncolor: blue\n",
        "overlays/base/00-namespace.yaml": (
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {{ values.namespace }}\n"
        ),
        "overlays/base/settings.yaml": "\n---\n".join(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
            f"  name: settings-{i}\n  namespace: {{{{ values.namespace }}}}\ndata:\n  color: {{{{ values.color }}}}\n"
            for i in range(objects)
        ),
        "overlays/bench/values.yaml": "{}\n",
    }
    for name in names:
        files[f"clusters/{name}.yaml"] = (
            f"env: bench\nkubeconfig: {name}.kubeconfig\ncontext: {name}\nenabled: {str(enabled).lower()}\n"
        )
    repo = git.Repo.init(path, initial_branch="main")
    for rel, text in files.items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_text(text)
    repo.index.add(list(files))
    repo.index.commit("fleet")
    return path


@dataclass
class Hub:
    identity: str
    url: str
    process: subprocess.Popen[bytes]

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0


def start_hub(identity: str, repo: Path, work: Path, config: Path, management: Path | None) -> Hub:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "fleet",
        "hub",
        f"--repo={repo}",
        "--interval=60s",
        f"--listen=127.0.0.1:{port}",
        f"--config={config}",
        f"--state-dir={work / identity}",
        "--log-format=json",
    ]
    if management is not None:
        command += [
            f"--management-kubeconfig={management}",
            "--namespace=default",
            f"--identity={identity}",
            f"--lease-duration={LEASE[0]}",
            f"--lease-renew={LEASE[1]}",
        ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEET_")}
    with (work / f"{identity}.log").open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    return Hub(identity, f"http://127.0.0.1:{port}", process)


async def get(session: aiohttp.ClientSession, url: str) -> Any:
    async with session.get(url) as response:
        return await response.json() if response.status == 200 else None


async def wait_all_synced(session: aiohttp.ClientSession, hub: Hub, count: int, timeout: float = 900) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            report = await get(session, hub.url + "/api/v1/fleet?brief=1")
        except aiohttp.ClientError:
            report = None
        if report and sum(c["sync"] == "Synced" and not c["error"] for c in report["clusters"]) == count:
            return time.monotonic() - started
        await asyncio.sleep(0.2)
    raise SystemExit(f"the fleet was not synced within {timeout:.0f}s")


async def drift_seen(session: aiohttp.ClientSession, hub: Hub, cluster: str, want: bool) -> float:
    started = time.monotonic()
    while time.monotonic() - started < 60:
        report = await get(session, f"{hub.url}/api/v1/clusters/{cluster}")
        if report is not None and (report["drift"] > 0) == want:
            return time.monotonic() - started
        await asyncio.sleep(0.01)
    raise SystemExit(f"drift on {cluster} not {'shown' if want else 'cleared'} within 60s")


async def kubectl_patch(lab: LocalLab, cluster: str, namespace: str, color: str) -> None:
    from fleet.lab.versions import bin_dir

    process = await asyncio.create_subprocess_exec(
        str(bin_dir() / "kubectl"),
        f"--kubeconfig={lab.paths.kubeconfig(cluster)}",
        "-n",
        namespace,
        "patch",
        "configmap",
        "settings-0",
        "--field-manager=kubectl-edit",
        "--type=merge",
        f"--patch={json.dumps({'data': {'color': color}})}",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _out, err = await process.communicate()
    if process.returncode:
        raise SystemExit(f"kubectl patch failed on {cluster}: {err.decode()}")


async def drift_latencies(
    lab: LocalLab, session: aiohttp.ClientSession, hub: Hub, names: list[str], namespace: str, edits: int
) -> list[float]:
    """The edit's API call returns, then the report is polled every 10 ms (kubectl's own start-up is not
    counted: the clock starts when the edit is stored)."""
    rng = random.Random(7)
    latencies = []
    for _ in range(edits):
        cluster = rng.choice(names)
        await kubectl_patch(lab, cluster, namespace, "red")
        latencies.append(await drift_seen(session, hub, cluster, True))
        await kubectl_patch(lab, cluster, namespace, "blue")
        await drift_seen(session, hub, cluster, False)
    return latencies


def stamp(text: str) -> float:
    whole, _, fraction = text.rstrip("Z").partition(".")
    return calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) + float(f"0.{fraction or '0'}")


def audited_writes(lab: LocalLab, clusters: list[str], since: float, until: float) -> int:
    count = 0
    for cluster in clusters:
        path = lab.paths.audit_log(cluster)
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            event = json.loads(line)
            if (
                event.get("stage") == "ResponseComplete"
                and str(event.get("userAgent", "")).startswith("fleet-hub/")
                and "dryRun=All" not in str(event.get("requestURI"))
                and since <= stamp(event["requestReceivedTimestamp"]) <= until
            ):
                count += 1
    return count


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def phase(lab: LocalLab, names: list[str], args: argparse.Namespace, replicas: int, root: Path) -> dict[str, Any]:
    namespace = f"scale-{replicas}"
    work = root / f"phase-{replicas}"
    work.mkdir()
    repo = fleet_repo(work / "repo", names, namespace, args.objects)
    config = work / "hub.yaml"
    config.write_text(f"credentialsDir: {lab.paths.kubeconfigs}\ninventoryName: inv-{namespace}\n")
    management = lab.paths.kubeconfig("mgmt") if replicas > 1 else None
    started = time.monotonic()
    hubs = [start_hub(f"hub-{i}", repo, work, config, management) for i in range(replicas)]
    result: dict[str, Any] = {"replicas": replicas}
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
            await wait_all_synced(session, hubs[0], len(names))
            result["first_sync"] = time.monotonic() - started
            await asyncio.sleep(5)
            lat = await drift_latencies(lab, session, hubs[0], names, namespace, args.edits)
            result["drift"] = (percentile(lat, 50), percentile(lat, 95), percentile(lat, 99))
            await asyncio.sleep(5)
            cpu_before = sum(h.cpu_seconds() for h in hubs)
            wall_before = time.time()
            await asyncio.sleep(args.idle)
            wall_after = time.time()
            result["idle_cpu"] = 100 * (sum(h.cpu_seconds() for h in hubs) - cpu_before) / args.idle
            result["idle_writes"] = audited_writes(lab, names, wall_before, wall_after)
            result["lease_writes_per_min"] = audited_writes(lab, ["mgmt"], wall_before, wall_after) / (args.idle / 60)
            result["rss"] = [h.rss_mb() for h in hubs]
            shards = [await get(session, h.url + "/api/v1/shard") for h in hubs]
            result["held"] = [len(s["clusters"]) if s else 0 for s in shards]
            if replicas > 1:
                result["failover"] = await failover(session, hubs, names)
    finally:
        for hub in hubs:
            if hub.process.poll() is None:
                hub.process.send_signal(signal.SIGTERM)
        for hub in hubs:
            try:
                hub.process.wait(30)
            except subprocess.TimeoutExpired:
                hub.process.kill()
    return result


async def failover(session: aiohttp.ClientSession, hubs: list[Hub], names: list[str]) -> float:
    shards = {h.identity: await get(session, h.url + "/api/v1/shard") for h in hubs}
    victim = max(hubs, key=lambda h: len(shards[h.identity]["clusters"]))
    lost = {c["name"] for c in shards[victim.identity]["clusters"]}
    survivors = [h for h in hubs if h is not victim]
    killed = time.monotonic()
    victim.process.send_signal(signal.SIGKILL)
    while time.monotonic() - killed < 120:
        held: set[str] = set()
        for hub in survivors:
            shard = await get(session, hub.url + "/api/v1/shard")
            held |= {c["name"] for c in shard["clusters"] if c["sync"] == "Synced"} if shard else set()
        if lost <= held:
            return time.monotonic() - killed
        await asyncio.sleep(0.1)
    raise SystemExit("failover did not complete within 120s")


def lab_rss_mb(lab: LocalLab) -> float:
    total = 0
    for name in lab.supervisor.known():
        pid = lab.supervisor.pid(name)
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (OSError, TypeError):
            continue
    return total / 1024


async def idle_hub_rss(lab: LocalLab, names: list[str], root: Path) -> float:
    """RSS of a hub that manages nothing (every cluster disabled): the cost of the process itself."""
    work = root / "baseline"
    work.mkdir()
    repo = fleet_repo(work / "repo", names, "baseline", 1, enabled=False)
    config = work / "hub.yaml"
    config.write_text(f"credentialsDir: {lab.paths.kubeconfigs}\n")
    hub = start_hub("hub-baseline", repo, work, config, None)
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(300):
                try:
                    async with session.get(hub.url + "/readyz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        await asyncio.sleep(2)
        return hub.rss_mb()
    finally:
        hub.process.terminate()
        hub.process.wait(30)


async def main_async(args: argparse.Namespace) -> None:
    root = Path(tempfile.mkdtemp(prefix="fleet-scale-"))
    lab = LocalLab(root / "lab", audit=True)
    names = [f"s{i}" for i in range(1, args.clusters + 1)]
    try:
        started = time.monotonic()
        await lab.up([ClusterSpec(n, ()) for n in ["mgmt", *names]], log=lambda _m: None)
        rss = lab_rss_mb(lab)
        print(
            f"lab: {len(names)} + 1 apiserver-only clusters ready in {time.monotonic() - started:.0f}s, "
            f"{rss / 1024:.1f} GiB RSS ({rss / (len(names) + 1):.0f} MiB per cluster incl. its share of etcd)"
        )
        print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}")
        print(f"{len(names)} clusters x {args.objects + 1} objects; {args.edits} edits; idle window {args.idle}s")
        baseline = await idle_hub_rss(lab, names, root)
        print(f"a hub managing nothing (every cluster disabled): {baseline:.0f} MiB RSS")
        for replicas in args.replicas:
            r = await phase(lab, names, args, replicas, root)
            p50, p95, p99 = r["drift"]
            rss_list = ", ".join(f"{m:.0f}" for m in r["rss"])
            per_cluster = sum(r["rss"]) / len(names)
            print(f"--- {replicas} hub(s)")
            print(f"first sync of the whole fleet: {r['first_sync']:.1f}s")
            print(f"drift latency: p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms")
            print(f"hub RSS: {rss_list} MiB = {per_cluster:.2f} MiB per managed cluster (all replicas together)")
            held = ", ".join(
                f"{m:.0f} MiB / {n} = {(m - baseline) / max(n, 1):.2f} MiB per cluster above the idle hub"
                for m, n in zip(r["rss"], r["held"], strict=True)
            )
            print(f"  per replica (RSS / clusters held): {held}")
            print(f"idle CPU (all replicas): {r['idle_cpu']:.1f}% of one core")
            print(
                f"idle writes to workload clusters: {r['idle_writes']}; "
                f"Lease writes to the management cluster: {r['lease_writes_per_min']:.0f}/min"
            )
            if "failover" in r:
                print(f"failover after SIGKILL of the busiest replica: {r['failover']:.1f}s (lease {LEASE[0]})")
    finally:
        lab.down()
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clusters", type=int, default=50)
    parser.add_argument("--objects", type=int, default=10, help="ConfigMaps per cluster (plus a Namespace)")
    parser.add_argument("--edits", type=int, default=100)
    parser.add_argument("--idle", type=float, default=300.0, help="seconds of idle fleet measured")
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 3])
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
