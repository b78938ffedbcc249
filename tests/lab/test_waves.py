"""Waves: a release reaches wave 2 only after wave 1 is Healthy; a Degraded wave 1 halts the rollout and,
with autoRollback, the hub commits a rollback of the env's pin."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from kubernetes_asyncio import client

from fleet.hub.core import Hub, HubOptions
from tests.support.browser import chromium, open_page
from tests.support.hub import SECRET, RunningHub, serve_hub, signed
from tests.support.lab import LabSession
from tests.support.labrepo import FleetRepo, push, with_remote

STUCK_WHEN_BROKEN = """\
{% if values.broken | default(false) %}
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  progressDeadlineSeconds: 5
  template:
    spec:
      nodeSelector: {no-node-has: this}
{% endif %}
"""


@pytest.fixture
async def prod(tmp_path: Path, lab_session: LabSession) -> AsyncIterator[tuple[FleetRepo, RunningHub]]:
    fleet = FleetRepo(tmp_path / "seed", lab_session, {"prod-eu-1": "prod", "prod-us-1": "prod"})
    first = fleet.repo.head.commit.hexsha
    eu = (fleet.root / "clusters/prod-eu-1.yaml").read_text()
    us = (fleet.root / "clusters/prod-us-1.yaml").read_text()
    fleet.commit(
        {
            "clusters/prod-eu-1.yaml": eu + "labels: {wave: '1'}\n",
            "clusters/prod-us-1.yaml": us + "labels: {wave: '2'}\n",
            "overlays/prod/release.yaml": f"revision: {first}\nvalues: {{tag: '1'}}\n",
            "overlays/prod/env.yaml": "rollout: {waveTimeout: 90, autoRollback: true}\n",
            "overlays/prod/patches/stuck.yaml": STUCK_WHEN_BROKEN,
        },
        "waves",
    )
    remote = with_remote(fleet, tmp_path)
    logs = io.StringIO()
    options = HubOptions(
        repo=str(remote), interval=300.0, state_dir=tmp_path / "hub", webhook_secret=SECRET, request_timeout=5.0
    )
    async with serve_hub(options, fleet.config, logs) as running:
        yield fleet, running


async def tags(fleet: FleetRepo, cluster: str) -> set[str]:
    """Every image tag any ReplicaSet of the app ever had in that cluster."""
    async with fleet.lab.api(cluster) as api:
        sets = (await client.AppsV1Api(api).list_namespaced_replica_set(fleet.namespace)).items
    return {rs.spec.template.spec.containers[0].image.rsplit(":", 1)[1] for rs in sets}


def release_values(tag: str, **extra: object) -> str:
    values = ", ".join([f"tag: '{tag}'", *(f"{k}: {str(v).lower()}" for k, v in extra.items())])
    return "values: {" + values + "}\n"


def push_broken_release(fleet: FleetRepo) -> None:
    """Release 3, which degrades wave 1, without automatic rollback: the rollout stays halted."""
    pin = (fleet.root / "overlays/prod/release.yaml").read_text().split("values:")[0]
    push(
        fleet,
        {
            "overlays/prod/env.yaml": "rollout: {waveTimeout: 90, autoRollback: false}\n",
            "overlays/prod/release.yaml": pin + release_values("3", broken=True),
        },
        "release 3, no automatic rollback",
    )


def tag_of(hub: Hub) -> str:
    return str(hub.rollouts["prod"].target_release.get("values", {}).get("tag"))


async def test_a_release_goes_wave_by_wave_and_a_degraded_wave_rolls_back(prod: tuple[FleetRepo, RunningHub]) -> None:
    fleet, running = prod
    both = ("prod-eu-1", "prod-us-1")
    await running.wait(lambda h: all(n in h.state.reports and h.state.reports[n].ok for n in both), 60, "first sync")
    pin = (fleet.root / "overlays/prod/release.yaml").read_text().split("values:")[0]
    body = b'{"ref": "refs/heads/main"}'

    push(fleet, {"overlays/prod/release.yaml": pin + release_values("2")}, "release 2")
    assert await running.webhook(body, signed(body)) == 202
    await running.wait(lambda h: tag_of(h) == "2" and h.rollouts["prod"].state == "complete", 90, "release 2 out")
    assert "2" in await tags(fleet, "prod-eu-1") and "2" in await tags(fleet, "prod-us-1")
    lines = running.logs.getvalue().splitlines()
    released = [line for line in lines if '"event":"sync"' in line and "wave released" in line]
    assert released and all("prod-us-1" in line for line in released)  # wave 2 synced once wave 1 released it

    push(fleet, {"overlays/prod/release.yaml": pin + release_values("3", broken=True)}, "release 3")
    assert await running.webhook(body, signed(body)) == 202
    started = time.monotonic()
    await running.wait(lambda h: tag_of(h) == "3", 30, "release 3 started")
    await running.wait(lambda h: h.rollouts["prod"].rolled_back, 120, "rollout halted and rolled back")
    halted = running.hub.rollouts["prod"].reason
    await running.wait(lambda h: tag_of(h) == "2" and h.rollouts["prod"].state == "complete", 120, "rollback out")
    fleet.repo.remotes.origin.fetch()
    head = fleet.repo.commit("origin/main")
    assert head.message.startswith("rollback prod") and '"automatic":true' in head.message
    assert halted.startswith("wave 1: prod-eu-1 Degraded") and "ProgressDeadlineExceeded" in halted
    assert "3" in await tags(fleet, "prod-eu-1")
    assert "3" not in await tags(fleet, "prod-us-1"), "wave 2 must never see the release that broke wave 1"
    async with fleet.lab.api("prod-eu-1") as api:
        dep = await client.AppsV1Api(api).read_namespaced_deployment("web", fleet.namespace)
        assert dep.spec.template.spec.containers[0].image.endswith(":2")
        assert not dep.spec.template.spec.node_selector
    print(f"halt, rollback commit and recovery took {time.monotonic() - started:.1f}s")
    await asyncio.sleep(0)


async def test_a_hub_restarted_mid_rollout_does_not_release_the_next_wave(
    prod: tuple[FleetRepo, RunningHub], tmp_path: Path
) -> None:
    fleet, running = prod
    both = ("prod-eu-1", "prod-us-1")
    await running.wait(lambda h: all(n in h.state.reports and h.state.reports[n].ok for n in both), 60, "first sync")
    push_broken_release(fleet)
    body = b'{"ref": "refs/heads/main"}'
    assert await running.webhook(body, signed(body)) == 202
    await running.wait(lambda h: h.rollouts["prod"].state == "halted", 90, "wave 1 halted")
    await running.hub.stop()

    # A new hub (its first look at the fleet): wave 2 must stay on the old release.
    options = running.hub.options
    async with serve_hub(options, fleet.config, io.StringIO()) as again:
        await again.wait(
            lambda h: h.rollouts.get("prod") is not None and h.rollouts["prod"].state == "halted", 60, "halt seen again"
        )
        assert "wave 1: prod-eu-1 Degraded" in again.hub.rollouts["prod"].reason
        await asyncio.sleep(3)
    assert "3" not in await tags(fleet, "prod-us-1")


async def test_the_dashboard_shows_why_a_wave_halted(prod: tuple[FleetRepo, RunningHub]) -> None:
    fleet, running = prod
    both = ("prod-eu-1", "prod-us-1")
    await running.wait(lambda h: all(n in h.state.reports and h.state.reports[n].ok for n in both), 60, "first sync")
    push_broken_release(fleet)
    errors: list[str] = []
    async with chromium() as browser:
        page = await open_page(browser, running.url + "/#/envs/prod", errors)
        await page.wait_for_selector("#pin")
        body = b'{"ref": "refs/heads/main"}'
        assert await running.webhook(body, signed(body)) == 202
        await running.wait(lambda h: h.rollouts["prod"].state == "halted", 90, "wave 1 halted")
        # The open page follows without a reload: state, reason, and which wave holds which clusters.
        reason = page.locator("[data-field='rollout-reason']")
        await reason.wait_for(timeout=10_000)
        assert "wave 1: prod-eu-1 Degraded" in await reason.inner_text()
        assert await page.locator("[data-field='rollout-state']").inner_text() == "halted"
        assert await page.locator("tr[data-wave='1'] [data-field='wave-state']").inner_text() == "halted"
        assert await page.locator("tr[data-wave='2'] [data-field='wave-state']").inner_text() == "waiting"
        await page.goto(running.url + "/")
        summary = page.locator("[data-env-summary='prod']")
        await summary.wait_for()
        assert "rollout halted" in await summary.inner_text()
    assert errors == []
