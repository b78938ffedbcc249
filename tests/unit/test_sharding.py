"""Which replica reconciles which cluster (rendezvous hashing), and what a replica refuses to do."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml

from fleet.config import FleetConfig
from fleet.errors import RegistryError
from fleet.hub.shards import lease_name
from fleet.kube.kubeconfig import load_kubeconfig, parse_kubeconfig
from fleet.model.cluster import Cluster
from fleet.model.sharding import assignment, owner

CLUSTERS = [f"cluster-{i:03d}" for i in range(300)]


def test_every_cluster_has_one_owner_and_the_load_is_spread() -> None:
    members = ["hub-a", "hub-b", "hub-c"]
    placed = assignment(CLUSTERS, members)
    assert set(placed) == set(CLUSTERS) and set(placed.values()) == set(members)
    counts = [list(placed.values()).count(m) for m in members]
    assert min(counts) > 300 / 3 * 0.75, counts
    assert assignment(CLUSTERS, []) == {}
    assert owner("x", []) is None


def test_the_answer_does_not_depend_on_the_order_members_are_listed_in() -> None:
    assert assignment(CLUSTERS, ["hub-a", "hub-b", "hub-c"]) == assignment(CLUSTERS, ["hub-c", "hub-a", "hub-b"])


@pytest.mark.parametrize("count", [2, 3, 5, 8])
def test_a_replica_joining_or_leaving_moves_only_its_own_share(count: int) -> None:
    members = [f"hub-{i}" for i in range(count)]
    before = assignment(CLUSTERS, members)
    after_join = assignment(CLUSTERS, [*members, "hub-new"])
    moved = [c for c in CLUSTERS if before[c] != after_join[c]]
    assert all(after_join[c] == "hub-new" for c in moved)  # only to the newcomer
    assert len(moved) < len(CLUSTERS) / (count + 1) * 1.5
    after_leave = assignment(CLUSTERS, members[1:])
    moved = [c for c in CLUSTERS if before[c] != after_leave[c]]
    assert all(before[c] == members[0] for c in moved)  # only the leaver's clusters


def test_lease_names_are_valid_object_names() -> None:
    assert lease_name("member", "Hub_A.example/1") == "fleet-member-hub-a-example-1"
    assert lease_name("cluster", "prod-eu-1") == "fleet-cluster-prod-eu-1"


def _secret_cluster() -> Cluster:
    return Cluster("c-1", "dev", {}, Path(), None, source="clusters/c-1.yaml", kubeconfig_secret="c-1-creds")


def test_a_kubeconfig_from_a_secret_is_vetted_like_a_file_and_may_name_no_file(tmp_path: Path) -> None:
    config = FleetConfig(tmp_path)
    (tmp_path / "ca.crt").write_text("inside the credentials dir, still refused")
    kubeconfig = {
        "clusters": [{"name": "c", "cluster": {"server": "https://10.0.0.1", "certificate-authority": "ca.crt"}}],
        "users": [{"name": "u", "user": {"token": "s3cr3t-token"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }
    with pytest.raises(RegistryError, match=r"Secret c-1-creds: .*names a file; .* must embed") as caught:
        parse_kubeconfig(_secret_cluster(), config, yaml.safe_dump(kubeconfig).encode())
    assert "kubeconfigSecret" in str(caught.value) and "s3cr3t" not in str(caught.value)
    kubeconfig["clusters"][0]["cluster"] = {  # type: ignore[index]
        "server": "https://10.0.0.1",
        "certificate-authority-data": base64.b64encode(b"pem").decode(),
    }
    resolved = parse_kubeconfig(_secret_cluster(), config, yaml.safe_dump(kubeconfig).encode())
    assert resolved.server == "https://10.0.0.1"
    kubeconfig["users"][0]["user"] = {"exec": {"command": "/bin/sh"}}  # type: ignore[index]
    with pytest.raises(RegistryError, match="credential plugin"):
        parse_kubeconfig(_secret_cluster(), config, yaml.safe_dump(kubeconfig).encode())


def test_without_a_management_cluster_a_secret_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match=r"clusters/c-1.yaml, field 'kubeconfigSecret' \(cluster c-1\): Secret"):
        load_kubeconfig(_secret_cluster(), FleetConfig(tmp_path))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--management-kubeconfig", "k", "--in-cluster"], "not both"),
        (["--in-cluster"], "not running in a Kubernetes pod"),
        (["--management-kubeconfig", "k", "--lease-duration", "2s", "--lease-renew", "2s"], "--lease-renew"),
        (["--management-kubeconfig", "k", "--identity", "Hub A"], "--identity 'Hub A'"),
    ],
)
def test_replica_options_are_checked_before_anything_starts(args: list[str], message: str, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from fleet.cli import cli
    from tests.support.hub import free_port

    result = CliRunner().invoke(
        cli, ["hub", "--repo", str(tmp_path), "--listen", f"127.0.0.1:{free_port()}", *args], catch_exceptions=False
    )
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


async def test_a_dead_peers_clusters_stay_in_the_report_marked_until_another_replica_reports_them() -> None:
    import asyncio
    import io

    from fleet.hub.log import EventLog
    from fleet.hub.peers import PeerReports
    from fleet.model.report import ClusterReport, SyncState

    changes: list[int] = []
    peers = PeerReports("hub-a", on_change=lambda: changes.append(1), log=EventLog("json", io.StringIO()))
    report = ClusterReport(name="c-1", env="dev", labels={}, revision="r1", sync=SyncState.SYNCED)
    peers.reports["hub-b"] = {"c-1": report}
    peers._tasks["hub-b"] = ("http://b", asyncio.create_task(asyncio.sleep(60)))
    peers.errors["hub-b"] = "2026-11-29T05:00:00Z"  # hub-b stopped answering: its last report, marked
    unanswered = peers.all()["c-1"]
    assert unanswered.error is not None and "does not answer" in unanswered.error
    assert unanswered.error_since == "2026-11-29T05:00:00Z" and not unanswered.ok
    await peers.follow({})  # hub-b's member Lease is gone
    shown = peers.all()["c-1"]
    assert shown.error is not None and "hub-b is gone" in shown.error and not shown.ok
    assert changes
    # hub-c took it over and reports it: the marked copy is dropped.
    peers._store("hub-c", {"identity": "hub-c", "version": 3, "clusters": [report.to_dict(with_items=True)]})
    assert peers.all()["c-1"].error is None
    await peers.close()
