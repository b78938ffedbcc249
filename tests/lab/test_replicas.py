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
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from kubernetes_asyncio import client

from fleet.config import FleetConfig
from fleet.errors import LeaseLost, RegistryError
from fleet.hub.log import EventLog
from fleet.hub.shards import CLUSTER, Shards, ShardSettings, lease_name
from fleet.kube.client import open_cluster, open_management
from fleet.kube.leases import LeaseStore
from fleet.kube.secrets import CredentialSource
from fleet.model.cluster import Cluster
from tests.support.fleetfiles import commit_files, git_repo
from tests.support.hub import free_port
from tests.support.lab import wait_for
from tests.support.replicas import (
    DEPLOY,
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
        # A sync asked of one replica reaches the clusters the others hold.
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                hubs["hub-a"].url + "/api/v1/sync",
                json={"envs": ["dev"]},
                headers={"Authorization": "Bearer replica-test-token"},
            ) as response,
        ):
            assert response.status == 202
            assert (await response.json())["triggered"] == CLUSTERS

        # ---- SIGKILL the replica holding most clusters: the others take them over and heal one
        victim = max(REPLICAS, key=lambda r: (sum(h == r for h in held.values()), r))
        lost = sorted(c for c, h in held.items() if h == victim)
        killed = time.monotonic()
        hubs[victim].process.send_signal(signal.SIGKILL)

        survivor = hubs[next(r for r in REPLICAS if r != victim)]
        marked: set[str] = set()

        async def taken_over() -> bool:
            # Meanwhile the survivors' report keeps every cluster; the dead replica's are marked as such.
            report = await get_json(survivor.url + "/api/v1/fleet?brief=1")
            assert sorted(c["name"] for c in report["clusters"]) == CLUSTERS
            marked.update(c["name"] for c in report["clusters"] if victim in str(c["error"] or ""))
            now = await holders(lab)
            return all(now[c] not in ("", victim) for c in lost)

        await wait_for(taken_over, timeout=30, what=f"the clusters of {victim} taken over")
        failover = time.monotonic() - killed
        assert marked <= set(lost), marked
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


async def test_deploy_manifests_pass_the_apiservers_server_side_dry_run(audited: AuditedLab) -> None:
    namespace = audited.kubectl(MANAGEMENT, "apply", "--server-side", f"--filename={DEPLOY / 'namespace.yaml'}")
    assert namespace.returncode == 0, namespace.stderr
    dry_run = audited.kubectl(MANAGEMENT, "apply", "--server-side", "--dry-run=server", f"--kustomize={DEPLOY}")
    assert dry_run.returncode == 0, dry_run.stderr
    kinds = {line.split("/")[0] for line in dry_run.stdout.splitlines()}
    assert {"serviceaccount", "role.rbac.authorization.k8s.io", "deployment.apps", "service"} <= kinds, dry_run.stdout


async def test_a_write_is_refused_once_the_lease_ran_out_and_the_lease_changes_hands_by_conditional_writes(
    audited: AuditedLab,
) -> None:
    """In-process replicas against the real management cluster, ticked by hand: the fence is tested
    without depending on which of a woken process's timers fires first."""
    lab = audited
    namespace = f"fence-{uuid.uuid4().hex[:6]}"
    async with admin_api(lab, MANAGEMENT) as api:
        await client.CoreV1Api(api).create_namespace({"metadata": {"name": namespace}})
    settings = {"duration": 3.0, "renew": 1.0, "margin": 1.0}
    management = await open_management(lab.kubeconfig(MANAGEMENT), MANAGEMENT, user_agent="fleet-test")
    workload = await open_cluster(
        Cluster("w1", "dev", {}, lab.kubeconfig("w1"), "w1"),
        FleetConfig(lab.kubeconfig("w1").parent),
        fence=None,
    )
    changes: list[tuple[str, frozenset[str]]] = []

    def replica(identity: str) -> Shards:
        async def on_change(held: frozenset[str]) -> None:
            changes.append((identity, held))

        store = LeaseStore(management, namespace)
        shards = Shards(store, ShardSettings(identity, "", **settings), on_change=on_change, log=EventLog())
        shards.set_clusters(["w1"])
        return shards

    a, b = replica("fence-a"), replica("fence-b")
    try:
        await a.tick()
        assert a.holds("w1")
        workload.fence = a.fence("w1")
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": namespace, "namespace": "default"}}
        await workload.request("POST", "/api/v1/namespaces/default/configmaps", body=body)

        await b.tick()  # b sees a alive and waits
        assert not b.holds("w1")
        await asyncio.sleep(2.2)  # a does not renew: past its term (duration - margin) on its own clock
        assert not a.holds("w1")
        with pytest.raises(LeaseLost):
            await workload.request("DELETE", f"/api/v1/namespaces/default/configmaps/{namespace}")
        async with admin_api(lab, "w1") as api:  # the refused delete was never sent
            await client.CoreV1Api(api).read_namespaced_config_map(namespace, "default")

        await asyncio.sleep(1.0)
        await b.tick()  # a's member Lease unchanged for its duration, as b saw it: b takes w1
        assert b.holds("w1")
        store = LeaseStore(management, namespace)
        taken = await store.get(lease_name(CLUSTER, "w1"))
        assert taken is not None and taken.holder == "fence-b"

        await a.tick()  # a wakes: its hold lapsed, it renews, and sees b holding w1
        assert not a.holds("w1") and ("fence-a", frozenset()) in changes
        # Whoever owns w1 by the hash now, it changes hands only by a release and a conditional take.
        for _ in range(3):
            await a.tick()
            await b.tick()
        holders_now = [s.identity for s in (a, b) if s.holds("w1")]
        assert len(holders_now) == 1
        current = await store.get(lease_name(CLUSTER, "w1"))
        assert current is not None and current.holder == holders_now[0]
        # A write from a stale read loses: two replicas reading the same version cannot both win.
        first = await store.update(current, holder=current.holder, duration=3.0)
        assert first is not None
        assert await store.update(current, holder="someone-else", duration=3.0) is None
    finally:
        await workload.close()
        await management.close()


async def test_only_secrets_marked_as_cluster_credentials_are_read(audited: AuditedLab) -> None:
    lab = audited
    namespace = f"creds-{uuid.uuid4().hex[:6]}"
    async with admin_api(lab, MANAGEMENT) as api:
        core = client.CoreV1Api(api)
        await core.create_namespace({"metadata": {"name": namespace}})
        await core.create_namespaced_secret(
            namespace, {"metadata": {"name": "webhook"}, "stringData": {"kubeconfig": "token-that-must-not-leak"}}
        )
    management = await open_management(lab.kubeconfig(MANAGEMENT), MANAGEMENT, user_agent="fleet-test")
    source = CredentialSource(management, namespace, FleetConfig(lab.kubeconfig("w1").parent))
    try:
        for secret, message in [
            ("webhook", "is not marked as cluster credentials"),
            ("absent", f"not found in the hub's namespace '{namespace}'"),
        ]:
            cluster = Cluster("w1", "dev", {}, Path(), None, source="clusters/w1.yaml", kubeconfig_secret=secret)
            with pytest.raises(RegistryError, match=message) as caught:
                await source.kubeconfig(cluster)
            assert "token-that-must-not-leak" not in str(caught.value)
            assert "field 'kubeconfigSecret' (cluster w1)" in str(caught.value)
    finally:
        await management.close()
