"""Three hub processes share six clusters through Leases in a management cluster, as deploy/'s
ServiceAccount (so a permission deploy/ forgot fails here). Each cluster is written by exactly one
replica; a replica killed with SIGKILL is replaced within the lease duration and a foreign edit on one of
its clusters is healed; a replica paused with SIGSTOP past its lease writes nothing to a cluster after it
wakes unless it has won that cluster's Lease again first. Writes are read from the apiservers' audit logs,
where each replica is named by its User-Agent: what the hubs say about themselves is not trusted."""

from __future__ import annotations

import asyncio
import calendar
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from kubernetes_asyncio import client

from fleet.hub.shards import CLUSTER, lease_name
from tests.support.fleetfiles import commit_files, git_repo
from tests.support.hub import free_port
from tests.support.lab import wait_for
from tests.support.replicas import (
    HUB_NAMESPACE,
    AuditedLab,
    HubProcess,
    admin_api,
    credentials_secret,
    hub_service_account_kubeconfig,
    start_audited_lab,
    start_hub,
)

MANAGEMENT = "mgmt"
CLUSTERS = [f"w{i}" for i in range(1, 7)]
REPLICAS = ("hub-a", "hub-b", "hub-c")
NAMESPACE = "replicas"
SETTINGS = """\
apiVersion: v1
kind: Namespace
metadata:
  name: replicas
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: replicas
data:
  color: {{ values.color }}
"""


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuditedLab]:
    yield from start_audited_lab(tmp_path_factory.mktemp("replicas") / "lab", [MANAGEMENT, *CLUSTERS])


def fleet_files(lab: AuditedLab) -> dict[str, str]:
    files = {
        "overlays/base/values.yaml": "color: blue\n",
        "overlays/base/settings.yaml": SETTINGS,
        "overlays/dev/values.yaml": "{}\n",
    }
    for name in CLUSTERS[:-1]:
        files[f"clusters/{name}.yaml"] = f"env: dev\nkubeconfig: {lab.kubeconfig(name).name}\ncontext: {name}\n"
    # The last cluster's credentials are a Secret of the hub's namespace, read through deploy/'s Role.
    files[f"clusters/{CLUSTERS[-1]}.yaml"] = f"env: dev\nkubeconfigSecret: {CLUSTERS[-1]}-kubeconfig\n"
    return files


def stamp(text: str) -> float:
    """An audit timestamp (RFC 3339 with microseconds, UTC) as epoch seconds."""
    whole, _, fraction = text.rstrip("Z").partition(".")
    return calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) + float(f"0.{fraction or '0'}")


async def holders(lab: AuditedLab) -> dict[str, str]:
    """cluster -> the replica its Lease names (as the management cluster stores it)."""
    async with admin_api(lab, MANAGEMENT) as api:
        leases = await client.CoordinationV1Api(api).list_namespaced_lease(HUB_NAMESPACE)
    return {
        (lease.metadata.annotations or {}).get("fleet.dev/cluster", ""): lease.spec.holder_identity or ""
        for lease in leases.items
        if (lease.metadata.labels or {}).get("fleet.dev/lease") == CLUSTER
    }


async def get_json(url: str) -> Any:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def color(lab: AuditedLab, cluster: str) -> str:
    async with admin_api(lab, cluster) as api:
        cm = await client.CoreV1Api(api).read_namespaced_config_map("settings", NAMESPACE)
    return str(cm.data["color"])


async def foreign_edit(lab: AuditedLab, cluster: str, value: str) -> None:
    async with admin_api(lab, cluster) as api:
        await client.CoreV1Api(api).patch_namespaced_config_map(
            "settings", NAMESPACE, {"data": {"color": value}}, field_manager="kubectl-edit"
        )


def fleet_writes(lab: AuditedLab, cluster: str) -> list[tuple[float, str]]:
    """(time, replica) of every write a hub replica made to ``cluster`` (dry runs change nothing)."""
    out = []
    for event in lab.writes(cluster):
        agent = str(event.get("userAgent", ""))
        if agent.startswith("fleet-hub/") and "dryRun=All" not in str(event.get("requestURI")):
            out.append((stamp(event["requestReceivedTimestamp"]), agent.removeprefix("fleet-hub/")))
    return out


def lease_writes(lab: AuditedLab, cluster: str) -> list[tuple[float, str]]:
    """(time, replica) of every successful write of ``cluster``'s Lease: take-overs, re-confirmations
    and releases."""
    name = lease_name(CLUSTER, cluster)
    return sorted(
        (stamp(e["requestReceivedTimestamp"]), str(e.get("userAgent")).removeprefix("fleet-hub/"))
        for e in lab.writes(MANAGEMENT)
        if str(e.get("userAgent", "")).startswith("fleet-hub/")
        and (e.get("objectRef") or {}).get("name") == name
        and e.get("verb") in ("create", "update")
        and (e.get("responseStatus") or {}).get("code") in (200, 201)
    )


def assert_one_writer_at_a_time(lab: AuditedLab) -> None:
    """Every write a replica made to a cluster came while the cluster's Lease was last written by that
    replica: two replicas never write to one cluster in the same term."""
    for cluster in CLUSTERS:
        leases = lease_writes(lab, cluster)
        for when, replica in fleet_writes(lab, cluster):
            before = [who for at, who in leases if at <= when]
            assert before and before[-1] == replica, (
                f"{replica} wrote to {cluster} at {when:.3f} while its Lease was last written by "
                f"{before[-1] if before else 'nobody'}"
            )


async def all_synced(hub: HubProcess, revision: str) -> bool:
    try:
        report = await get_json(hub.url + "/api/v1/fleet")
    except (aiohttp.ClientError, AssertionError):
        return False
    clusters = {c["name"]: c for c in report["clusters"]}
    return sorted(clusters) == CLUSTERS and all(
        c["sync"] == "Synced" and c["revision"] == revision and not c["error"] for c in clusters.values()
    )


async def test_three_replicas_share_six_clusters_survive_a_kill_and_a_paused_one_writes_nothing(
    audited: AuditedLab, tmp_path: Path
) -> None:
    lab = audited
    management = await hub_service_account_kubeconfig(lab, MANAGEMENT, tmp_path / "hub-sa.kubeconfig")
    await credentials_secret(lab, MANAGEMENT, CLUSTERS[-1], f"{CLUSTERS[-1]}-kubeconfig", marked=True)
    repo = git_repo(tmp_path / "repo", fleet_files(lab))
    revision = repo.head.commit.hexsha
    config = tmp_path / "hub-config.yaml"
    config.write_text(f"credentialsDir: {lab.kubeconfig(CLUSTERS[0]).parent}\n")
    hubs = {
        name: start_hub(
            identity=name,
            repo=tmp_path / "repo",
            port=free_port(),
            management=management,
            config=config,
            work=tmp_path,
            self_heal="dev",
        )
        for name in REPLICAS
    }
    try:
        # ---- every cluster reconciled, by exactly one replica; any replica reports the whole fleet
        for hub in hubs.values():
            await wait_for(lambda h=hub: all_synced(h, revision), timeout=120, what=f"{hub.identity} reports all")
        held = await holders(lab)
        assert sorted(held) == CLUSTERS and set(held.values()) <= set(REPLICAS), held
        shards = {name: await get_json(h.url + "/api/v1/shard") for name, h in hubs.items()}
        for name, shard in shards.items():
            assert {c["name"] for c in shard["clusters"]} == {c for c, h in held.items() if h == name}
        assert_one_writer_at_a_time(lab)

        # ---- SIGKILL the replica holding most clusters: the others take them over and heal one
        victim = max(REPLICAS, key=lambda r: (sum(h == r for h in held.values()), r))
        lost = sorted(c for c, h in held.items() if h == victim)
        killed = time.monotonic()
        hubs[victim].process.send_signal(signal.SIGKILL)

        async def taken_over() -> bool:
            now = await holders(lab)
            return all(now[c] not in ("", victim) for c in lost)

        await wait_for(taken_over, timeout=30, what=f"the clusters of {victim} taken over")
        failover = time.monotonic() - killed
        assert failover < 6 + 2 + 5, f"failover took {failover:.1f}s"  # lease + renewals + slack
        await foreign_edit(lab, lost[0], "red")
        await wait_for(lambda: _is(color(lab, lost[0]), "blue"), timeout=30, what=f"{lost[0]} healed")

        # ---- SIGSTOP a replica past its lease; change Git and edit its clusters while it sleeps
        alive = [r for r in REPLICAS if r != victim]
        held = await holders(lab)
        paused = max(alive, key=lambda r: (sum(h == r for h in held.values()), r))
        other = next(r for r in alive if r != paused)
        its = sorted(c for c, h in held.items() if h == paused)
        assert its, held
        stopped = time.time()
        hubs[paused].process.send_signal(signal.SIGSTOP)
        try:

            async def moved() -> bool:
                now = await holders(lab)
                return all(now[c] == other for c in CLUSTERS)

            await wait_for(moved, timeout=30, what=f"every cluster held by {other}")
            newer = commit_files(repo, {"overlays/base/values.yaml": "color: green\n"}, "green")
            await wait_for(lambda: all_synced(hubs[other], newer), timeout=60, what=f"{other} applies green")
            await foreign_edit(lab, its[0], "red")
            await wait_for(lambda: _is(color(lab, its[0]), "green"), timeout=30, what=f"{its[0]} healed")
        finally:
            hubs[paused].process.send_signal(signal.SIGCONT)
        # Awake, it finds its term over; it may win clusters back, but only through their Leases.
        await asyncio.sleep(8)
        for cluster in CLUSTERS:
            wins = [at for at, who in lease_writes(lab, cluster) if who == paused and at > stopped]
            for when, replica in fleet_writes(lab, cluster):
                if replica == paused and when > stopped + 1.0:
                    assert any(won <= when for won in wins), (
                        f"{paused} wrote to {cluster} at {when:.3f} after waking without winning its Lease"
                    )
        assert_one_writer_at_a_time(lab)
        assert any(e.get("event") == "lease_lapsed" for e in hubs[paused].events()), "the pause went unnoticed"

        # ---- the fleet ends consistent, every cluster held by one live replica
        for name in alive:
            await wait_for(lambda h=hubs[name]: all_synced(h, newer), timeout=60, what=f"{name} reports green")
        assert set((await holders(lab)).values()) <= set(alive)
    finally:
        for hub in hubs.values():
            if hub.process.poll() is None:
                os.kill(hub.process.pid, signal.SIGCONT)
            hub.stop()


async def _is(value: Any, expected: str) -> bool:
    return bool(await value == expected)
