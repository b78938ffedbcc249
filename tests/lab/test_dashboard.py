"""The dashboard in a real browser (Debian's chromium, driven by Playwright) against a hub running the
example fleet (clusters/ and overlays/ of this repository) on the lab."""

from __future__ import annotations

import io
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from kubernetes_asyncio import client
from playwright.async_api import Page

from fleet.config import FleetConfig
from fleet.hub.core import HubOptions
from tests.support.browser import chromium, open_page, screenshots_dir
from tests.support.fleetfiles import git_repo
from tests.support.hub import RunningHub, serve_hub
from tests.support.lab import LabSession

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "dashboard-t0ken-for-tests"
CLUSTERS = ("dev-1", "staging-1", "prod-eu-1", "prod-us-1")


def example_files() -> dict[str, str]:
    return {
        str(p.relative_to(ROOT)): p.read_text()
        for top in ("clusters", "overlays")
        for p in sorted((ROOT / top).rglob("*"))
        if p.is_file()
    }


@pytest.fixture
async def example_hub(tmp_path: Path, lab_session: LabSession) -> AsyncIterator[RunningHub]:
    git_repo(tmp_path / "repo", example_files())
    config = FleetConfig(lab_session.kubeconfig("dev-1").parent)
    options = HubOptions(
        repo=str(tmp_path / "repo"), interval=300.0, state_dir=tmp_path / "hub", token=TOKEN, request_timeout=10.0
    )
    async with serve_hub(options, config, io.StringIO()) as running:
        await running.wait(
            lambda h: all(n in h.state.reports and h.state.reports[n].ok for n in CLUSTERS), 240, "example fleet green"
        )
        yield running


async def state_of(page: Page, cluster: str, field: str) -> str | None:
    cell = page.locator(f"tr[data-cluster='{cluster}'] [data-field='{field}']")
    return await cell.get_attribute("data-state") if await cell.count() else None


async def test_the_dashboard_shows_the_fleet_live_and_syncs_only_with_the_token(
    example_hub: RunningHub, lab_session: LabSession, tmp_path: Path
) -> None:
    pictures = screenshots_dir(tmp_path)
    errors: list[str] = []
    async with chromium() as browser:
        page = await open_page(browser, example_hub.url + "/", errors)

        # The matrix: every cluster of the example fleet, grouped by env, Synced and Healthy.
        await page.wait_for_selector("tr[data-cluster='prod-us-1']")
        for cluster in CLUSTERS:
            assert await state_of(page, cluster, "sync") == "Synced"
            assert await state_of(page, cluster, "health") == "Healthy"
        assert await page.locator("tbody[data-env]").evaluate_all("els => els.map(e => e.dataset.env)") == [
            "dev",
            "prod",
            "staging",
        ]
        await page.evaluate("window.notReloaded = true")

        # A foreign edit turns the cell OutOfSync, without a reload.
        async with lab_session.api("dev-1") as api:
            await client.CoreV1Api(api).patch_namespaced_config_map(
                "shop-config", "shop", {"data": {"LOG_LEVEL": "trace"}}, field_manager="kubectl-edit"
            )
        edited = time.monotonic()
        await page.wait_for_selector(
            "tr[data-cluster='dev-1'] [data-field='sync'][data-state='OutOfSync']", timeout=15_000
        )
        print(f"foreign edit shown {time.monotonic() - edited:.2f}s after the API call returned")
        assert await page.evaluate("window.notReloaded") is True
        why = await page.locator("tr[data-cluster='dev-1'] [data-field='why']").inner_text()
        assert "ConfigMap/shop/shop-config" in why and "kubectl-edit" in why
        assert await state_of(page, "staging-1", "sync") == "Synced"
        await page.screenshot(path=str(pictures / "dashboard-matrix.png"), full_page=True)

        # The cluster page: the drifted field, both values and who changed it.
        await page.click("a[href='#/clusters/dev-1']")
        row = page.locator("#drift tr[data-path='data.LOG_LEVEL']")
        await row.wait_for()
        assert await row.locator("[data-field='desired']").inner_text() == "debug"  # dev's value in Git
        assert await row.locator("[data-field='live']").inner_text() == "trace"
        assert await row.locator("[data-field='manager']").inner_text() == "kubectl-edit"
        assert await row.get_attribute("data-object") == "ConfigMap/shop/shop-config"
        assert await page.locator("#objects tr[data-object]").count() >= 10
        await page.screenshot(path=str(pictures / "dashboard-cluster.png"), full_page=True)

        # Sync now: refused without the token, nothing changes; with it, Git's value comes back.
        await page.click("#sync-now")
        await page.locator("#toast", has_text="refused").wait_for()
        assert '"event":"api_denied"' in example_hub.logs.getvalue()
        await page.fill("#token", TOKEN)
        await page.click("#token-save")
        await page.click("#sync-now")
        await page.wait_for_selector("dd [data-field='sync'][data-state='Synced']", timeout=30_000)
        async with lab_session.api("dev-1") as api:
            config_map = await client.CoreV1Api(api).read_namespaced_config_map("shop-config", "shop")
        assert config_map.data["LOG_LEVEL"] == "debug"
        assert TOKEN not in await page.content()

        # The env page of prod: its pin and its promotion history from Git.
        await page.goto(example_hub.url + "/#/envs/prod")
        await page.wait_for_selector("#pin")
        assert "revision" in await page.locator("#pin").inner_text()
    assert errors == []
