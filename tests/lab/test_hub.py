"""The hub against the real lab and a real bare Git remote."""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest
from kubernetes_asyncio import client
from prometheus_client.parser import text_string_to_metric_families

from fleet.hub.core import Hub, HubOptions
from fleet.model.report import SyncState
from tests.support.hub import SECRET, RunningHub, free_port, serve_hub, signed
from tests.support.labrepo import MANY, FleetRepo, fleet_configmaps, push, with_remote

TOKEN = "t0ken-for-tests"


def synced(*names: str, revision: str | None = None) -> Callable[[Hub], bool]:
    def check(hub: Hub) -> bool:
        reports = hub.state.reports
        return all(
            n in reports
            and reports[n].sync is SyncState.SYNCED
            and (revision is None or reports[n].revision == revision)
            for n in names
        )

    return check


@pytest.fixture
async def fleet(dev_and_staging: FleetRepo, tmp_path: Path) -> FleetRepo:
    dev_and_staging.remote = with_remote(dev_and_staging, tmp_path)  # type: ignore[attr-defined]
    return dev_and_staging


@pytest.fixture
async def running(fleet: FleetRepo, tmp_path: Path) -> AsyncIterator[RunningHub]:
    logs = io.StringIO()
    options = HubOptions(
        repo=str(fleet.remote),  # type: ignore[attr-defined]
        branch="main",
        interval=300.0,  # long: webhooks and watches must do the work
        self_heal=frozenset({"dev"}),
        state_dir=tmp_path / "hub",
        token=TOKEN,
        webhook_secret=SECRET,
        request_timeout=5.0,
    )
    async with serve_hub(options, fleet.config, logs) as hub:
        yield hub


async def test_a_pushed_commit_reaches_every_cluster_after_a_webhook(fleet: FleetRepo, running: RunningHub) -> None:
    await running.wait(synced("dev-1", "staging-1"), 60, "first sync")
    sha = push(
        fleet,
        {"overlays/base/values.yaml": (fleet.root / "overlays/base/values.yaml").read_text().replace("blue", "green")},
    )
    body = json.dumps({"ref": "refs/heads/main", "after": sha}).encode()
    assert await running.webhook(body, signed(body)) == 202
    await running.wait(synced("dev-1", "staging-1", revision=sha), 30, "the pushed revision synced")
    for cluster in ("dev-1", "staging-1"):
        async with fleet.lab.api(cluster) as api:
            cm = await client.CoreV1Api(api).read_namespaced_config_map("settings", fleet.namespace)
            assert cm.data["color"] == "green"


async def test_foreign_edits_show_at_once_and_are_healed_in_self_heal_envs(
    fleet: FleetRepo, running: RunningHub
) -> None:
    await running.wait(synced("dev-1", "staging-1"), 60, "first sync")
    for cluster in ("dev-1", "staging-1"):
        async with fleet.lab.api(cluster) as api:
            await client.AppsV1Api(api).patch_namespaced_deployment_scale(
                "web", fleet.namespace, {"spec": {"replicas": 3}}, field_manager="intruder"
            )
    # staging does not self-heal: its drift is reported (through the watch, not the 300 s resync).
    seen = await running.wait(lambda h: len(h.state.reports["staging-1"].drift) == 1, 10, "staging drift reported")
    item = running.hub.state.reports["staging-1"].drift[0]
    assert item.fields[0].path == "spec.replicas" and item.fields[0].manager == "intruder (scale)"
    # dev self-heals: back to Git's 1 replica.

    async def dev_replicas() -> int:
        async with fleet.lab.api("dev-1") as api:
            dep = await client.AppsV1Api(api).read_namespaced_deployment("web", fleet.namespace)
            return int(dep.spec.replicas)

    started = time.monotonic()
    while await dev_replicas() != 1:
        assert time.monotonic() - started < 10, "dev-1 was not self-healed"
        await asyncio.sleep(0.1)
    healed = time.monotonic() - started
    print(f"drift reported after {seen:.2f}s; self-heal done {healed:.2f}s after the check started")
    assert '"event":"self_heal"' in running.logs.getvalue()


async def test_a_cluster_added_to_the_registry_is_picked_up(fleet: FleetRepo, running: RunningHub) -> None:
    await running.wait(synced("dev-1", "staging-1"), 60, "first sync")
    kubeconfig = fleet.lab.kubeconfig("prod-eu-1")
    push(
        fleet,
        {
            "clusters/prod-eu-1.yaml": f"name: prod-eu-1\nenv: prod\nkubeconfig: {kubeconfig}\ncontext: prod-eu-1\n",
            "overlays/prod/values.yaml": "replicas: 2\n",
        },
    )
    body = b'{"ref": "refs/heads/main"}'
    assert await running.webhook(body, signed(body)) == 202
    await running.wait(synced("prod-eu-1"), 30, "prod-eu-1 picked up")
    push(fleet, {"clusters/prod-eu-1.yaml": None})
    assert await running.webhook(body, signed(body)) == 202
    await running.wait(
        lambda h: "prod-eu-1" not in h.hub.loops if hasattr(h, "hub") else "prod-eu-1" not in h.loops,
        30,
        "prod-eu-1 dropped",
    )
    async with fleet.lab.api("prod-eu-1") as api:  # unmanaged, not deleted
        await client.AppsV1Api(api).read_namespaced_deployment("web", fleet.namespace)


async def test_a_stopped_apiserver_is_reported_and_recovered_without_help(
    fleet: FleetRepo, running: RunningHub
) -> None:
    await running.wait(synced("dev-1", "staging-1"), 60, "first sync")
    # In a thread: stopping waits for the apiserver's graceful shutdown (seconds), and blocking the event
    # loop that long would time out the hub's requests to the other clusters.
    await asyncio.to_thread(fleet.lab.lab.stop_apiserver, "staging-1")
    try:
        async with aiohttp.ClientSession() as s:
            headers = {"Authorization": f"Bearer {TOKEN}"}
            async with s.post(running.url + "/api/v1/sync", json={"clusters": ["staging-1"]}, headers=headers) as r:
                assert r.status == 202
        await running.wait(lambda h: h.state.reports["staging-1"].error is not None, 30, "staging-1 unreachable")
        report = running.hub.state.reports["staging-1"]
        assert report.sync is SyncState.UNKNOWN and report.error_since
        assert running.hub.state.reports["dev-1"].sync is SyncState.SYNCED
    finally:
        await fleet.lab.lab.start_apiserver("staging-1")
    await running.wait(synced("staging-1"), 60, "staging-1 recovered by the hub's own retries")


async def test_token_and_webhook_signatures_are_enforced(running: RunningHub) -> None:
    body = b'{"ref": "refs/heads/main", "marker": "PAYLOAD-MARKER"}'
    assert await running.webhook(body, {}) == 401  # unsigned
    assert await running.webhook(body, {"X-Hub-Signature-256": "sha256=" + "0" * 64}) == 401  # forged
    assert await running.webhook(body, signed(body, "wrong-secret")) == 401
    other = b'{"ref": "refs/heads/main"}'
    assert await running.webhook(body, signed(other)) == 401  # a valid signature of another body: a replay
    assert await running.webhook(body, {"X-Gitlab-Token": "nope"}) == 401
    assert await running.webhook(body, {"X-Gitlab-Token": SECRET}) == 202
    assert await running.webhook(body, signed(body)) == 202
    async with aiohttp.ClientSession() as s:
        for headers, status in (
            ({}, 401),
            ({"Authorization": "Bearer nope"}, 401),
            ({"Authorization": f"Bearer {TOKEN}"}, 202),
        ):
            async with s.post(running.url + "/api/v1/sync", json={}, headers=headers) as r:
                assert r.status == status
        async with s.post(running.url + "/api/v1/sync", data=b"[1", headers={"Authorization": f"Bearer {TOKEN}"}) as r:
            assert r.status == 400
    logs = running.logs.getvalue()
    assert "PAYLOAD-MARKER" not in logs and SECRET not in logs and TOKEN not in logs
    assert logs.count('"event":"webhook_denied"') == 5


async def test_metrics_parse_and_reads_work(fleet: FleetRepo, running: RunningHub) -> None:
    await running.wait(synced("dev-1", "staging-1"), 60, "first sync")
    async with aiohttp.ClientSession() as s:
        async with s.get(running.url + "/metrics") as r:
            families = {f.name: f for f in text_string_to_metric_families(await r.text())}
        async with s.get(running.url + "/api/v1/clusters/nope") as r:
            assert r.status == 404 and "known clusters: dev-1, staging-1" in await r.text()
        async with s.get(running.url + "/readyz") as r:
            assert r.status == 200
    for name in (
        "fleet_reconcile_duration_seconds",
        "fleet_reconciles",
        "fleet_drift_objects",
        "fleet_git_fetch_duration_seconds",
        "fleet_last_successful_sync_timestamp_seconds",
    ):
        assert name in families, sorted(families)


async def test_sigkill_of_the_hub_mid_sync_then_restart_leaves_no_orphans(fleet: FleetRepo, tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    push(fleet, {"overlays/dev/many.yaml": MANY})
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "fleet",
        "hub",
        "--repo",
        str(fleet.remote),
        "--listen",
        f"127.0.0.1:{port}",  # type: ignore[attr-defined]
        "--interval",
        "300s",
        "--state-dir",
        str(tmp_path / "hub-state"),
        "--log-format",
        "json",
    ]
    env = {**os.environ, **fleet.cli_env()}
    root = Path(__file__).resolve().parents[2]
    first = subprocess.Popen(command, env=env, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        started = time.monotonic()
        while len(await fleet_configmaps(fleet.lab, fleet.namespace)) < 10:
            assert time.monotonic() - started < 60, "the hub did not start syncing"
            await asyncio.sleep(0.05)
        first.send_signal(signal.SIGKILL)
    finally:
        first.wait(timeout=30)
    partial = await fleet_configmaps(fleet.lab, fleet.namespace)
    assert len(partial) < 151, "the kill came too late to test anything"
    keep = "\n---\n".join(MANY.split("\n---\n")[50:])  # the killed hub created cm-000.. first: they must go
    push(fleet, {"overlays/dev/many.yaml": keep})
    second = subprocess.Popen(command, env=env, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        started = time.monotonic()
        async with aiohttp.ClientSession() as session:
            while True:
                assert time.monotonic() - started < 90, "the restarted hub did not converge"
                try:
                    async with session.get(f"http://127.0.0.1:{port}/api/v1/clusters/dev-1") as r:
                        if r.status == 200 and (await r.json())["sync"] == "Synced":
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
        expected = {f"cm-{i:03d}" for i in range(50, 150)} | {"settings"}
        assert await fleet_configmaps(fleet.lab, fleet.namespace) == expected
    finally:
        second.send_signal(signal.SIGTERM)
        _, stderr = second.communicate(timeout=30)
    assert second.returncode == 0, stderr[-2000:]
    assert '"event":"stopped"' in stderr


async def test_a_controller_fighting_self_heal_is_reported(fleet: FleetRepo, running: RunningHub) -> None:
    await running.wait(synced("dev-1"), 60, "first sync")

    async def fight() -> None:
        async with fleet.lab.api("dev-1") as api:
            apps = client.AppsV1Api(api)
            while True:
                await apps.patch_namespaced_deployment_scale(
                    "web", fleet.namespace, {"spec": {"replicas": 4}}, field_manager="autoscaler"
                )
                await asyncio.sleep(0.3)

    fighter = asyncio.create_task(fight())
    try:
        await running.wait(
            lambda h: "fighting with manager autoscaler" in (h.state.reports["dev-1"].error or ""), 60, "fight seen"
        )
    finally:
        fighter.cancel()
    assert running.logs.getvalue().count('"event":"self_heal"') == 3  # then it stopped healing


async def test_status_and_drift_read_from_a_hub(fleet: FleetRepo, running: RunningHub) -> None:
    from click.testing import CliRunner

    from fleet.cli import cli

    both = ("dev-1", "staging-1")
    await running.wait(lambda h: all(n in h.state.reports and h.state.reports[n].ok for n in both), 60, "healthy")

    async def invoke(*args: str):  # type: ignore[no-untyped-def]
        # The CLI runs its own event loop: in a thread, while this loop keeps serving the hub.
        return await asyncio.to_thread(CliRunner().invoke, cli, list(args))

    result = await invoke("status", "--hub", running.url, "--exit-code")
    assert result.exit_code == 0, result.output
    assert "2/2 clusters Synced and Healthy" in result.stdout
    drift = await invoke("drift", "staging-1", "--hub", running.url, "-o", "json")
    assert drift.exit_code == 0 and '"items": []' in drift.stdout
    unknown = await invoke("drift", "nope", "--hub", running.url)
    assert unknown.exit_code == 2 and "known clusters: dev-1, staging-1" in unknown.stderr


async def test_git_unreachable_is_reported_and_the_fleet_keeps_running(fleet: FleetRepo, running: RunningHub) -> None:
    await running.wait(synced("dev-1", "staging-1"), 60, "first sync")
    remote = Path(str(fleet.remote))  # type: ignore[attr-defined]
    hidden = remote.with_name("remote-away.git")
    remote.rename(hidden)  # the Git server is gone
    try:
        body = b'{"ref": "refs/heads/main"}'
        assert await running.webhook(body, signed(body)) == 202
        await running.wait(lambda h: h.state.git_error is not None, 30, "git error reported")
        async with aiohttp.ClientSession() as s, s.get(running.url + "/api/v1/fleet") as r:
            data = await r.json()
        assert "fetch of main from the fleet repository failed" in data["gitError"]
        assert {c["name"]: c["sync"] for c in data["clusters"]} == {"dev-1": "Synced", "staging-1": "Synced"}
        # Drift is still watched and reported while Git is down.
        async with fleet.lab.api("staging-1") as api:
            await client.CoreV1Api(api).delete_namespaced_config_map("settings", fleet.namespace)
        await running.wait(lambda h: len(h.state.reports["staging-1"].drift) == 1, 10, "drift while Git is down")
    finally:
        hidden.rename(remote)
    assert await running.webhook(body, signed(body)) == 202
    await running.wait(lambda h: h.state.git_error is None, 30, "git recovered")
