"""The dashboard's HTTP side without a browser or a lab: what it serves, the headers every response
carries, the event stream, the env endpoints, and requests a hostile page could make."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from fleet.config import FleetConfig
from fleet.hub.core import HubOptions
from tests.support.fleetfiles import MINIMAL, git_repo
from tests.support.hub import RunningHub, serve_hub

TOKEN = "dashboard-api-t0ken"
STAGING = {
    "clusters/staging-1.yaml": "name: staging-1\nenv: staging\nkubeconfig: staging-1.kubeconfig\n",
    "overlays/staging/values.yaml": "replicas: 3\n",
    "overlays/staging/release.yaml": "revision: HEAD\nvalues: {tag: '2'}\n",
}


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[RunningHub]:
    git_repo(tmp_path / "repo", {**MINIMAL, **STAGING})
    options = HubOptions(repo=str(tmp_path / "repo"), interval=3600, state_dir=tmp_path / "state", token=TOKEN)
    async with serve_hub(options, FleetConfig(tmp_path / "credentials"), io.StringIO()) as running:
        await running.wait(lambda h: len(h.state.reports) == 2, 30, "both clusters reported")
        yield running


async def fetch(url: str, method: str = "GET", **kwargs: object) -> tuple[int, dict[str, str], str]:
    async with aiohttp.ClientSession() as session, session.request(method, url, **kwargs) as response:  # type: ignore[arg-type]
        return response.status, dict(response.headers), await response.text()


async def test_the_page_and_its_files_are_served_with_a_strict_policy(hub: RunningHub) -> None:
    status, headers, body = await fetch(hub.url + "/")
    assert status == 200 and '<script src="/static/app.js"' in body
    policy = headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["X-Frame-Options"] == "DENY"
    for name, kind in (("app.js", "text/javascript"), ("style.css", "text/css")):
        status, headers, _ = await fetch(f"{hub.url}/static/{name}")
        assert status == 200 and headers["Content-Type"].startswith(kind)
    for bad in ("/static/index.html", "/static/..%2f..%2fcore.py", "/static/%2e%2e/dashboard.py", "/static/"):
        status, _, _ = await fetch(hub.url + bad)
        assert status == 404, bad
    _, headers, _ = await fetch(hub.url + "/api/v1/fleet")
    assert "Content-Security-Policy" in headers  # the API's answers too


async def test_the_page_never_builds_html_from_report_text() -> None:
    script = (Path(__file__).resolve().parents[2] / "fleet/hub/static/app.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in script, sink


async def test_the_fleet_can_be_filtered_by_env_and_selector(hub: RunningHub) -> None:
    _, _, body = await fetch(hub.url + "/api/v1/fleet?env=staging")
    assert '"name": "staging-1"' in body and '"name": "dev-1"' not in body
    _, _, body = await fetch(hub.url + "/api/v1/fleet?selector=region%3Deu")
    assert '"name": "dev-1"' in body and '"name": "staging-1"' not in body
    _, _, body = await fetch(hub.url + "/api/v1/fleet?brief=1")
    assert '"items"' not in body and '"drift": 0' in body
    _, _, body = await fetch(hub.url + "/api/v1/fleet")
    assert '"items": []' in body
    status, _, body = await fetch(hub.url + "/api/v1/fleet?selector=%3D%3D%3D")
    assert status == 400 and "bad request" in body


async def test_a_cross_origin_sync_is_refused_even_with_the_token(hub: RunningHub) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "Origin": "http://evil.example"}
    status, _, body = await fetch(hub.url + "/api/v1/sync", "POST", json={}, headers=headers)
    assert status == 403 and "cross-origin" in body
    same = {"Authorization": f"Bearer {TOKEN}", "Origin": hub.url}
    status, _, _ = await fetch(hub.url + "/api/v1/sync", "POST", json={}, headers=same)
    assert status == 202
    status, headers, _ = await fetch(
        hub.url + "/api/v1/sync",
        "OPTIONS",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "Access-Control-Allow-Origin" not in headers  # no CORS: other sites' scripts cannot read or act
    assert TOKEN not in hub.logs.getvalue()


async def test_the_event_stream_says_when_the_report_changes(hub: RunningHub) -> None:
    async with aiohttp.ClientSession() as session, session.get(hub.url + "/api/v1/events") as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        first = await asyncio.wait_for(response.content.readuntil(b"\n\n"), 5)
        assert first.startswith(b"event: fleet\ndata: ")
        hub.hub.changes.bump()
        second = await asyncio.wait_for(response.content.readuntil(b"\n\n"), 5)
        assert second != first and second.startswith(b"event: fleet\ndata: ")


async def test_an_open_event_stream_does_not_hold_up_the_hubs_stop(tmp_path: Path) -> None:
    git_repo(tmp_path / "repo", MINIMAL)
    options = HubOptions(repo=str(tmp_path / "repo"), interval=3600, state_dir=tmp_path / "state")
    session = aiohttp.ClientSession()
    try:
        started = 0.0
        async with serve_hub(options, FleetConfig(tmp_path / "credentials"), io.StringIO()) as running:
            response = await session.get(running.url + "/api/v1/events")
            await response.content.readuntil(b"\n\n")
            started = asyncio.get_running_loop().time()
        assert asyncio.get_running_loop().time() - started < 10
    finally:
        await session.close()


async def test_the_env_endpoint_shows_pin_history_and_a_plan_error(hub: RunningHub) -> None:
    status, _, body = await fetch(hub.url + "/api/v1/envs/staging")
    assert status == 200 and '"tag": "2"' in body and '"history": []' in body
    status, _, body = await fetch(hub.url + "/api/v1/envs/nope")
    assert status == 404 and "envs: dev, staging" in body
    status, _, body = await fetch(hub.url + "/api/v1/envs/staging/plan?from=staging")
    assert status == 400 and "same env" in body
    status, _, body = await fetch(hub.url + "/api/v1/envs/staging/plan?from=qa")
    assert status == 400 and "unknown env 'qa'" in body
    # dev's clusters cannot be reached: the gates say so, and the plan's dry runs report the error per cluster.
    status, _, body = await fetch(hub.url + "/api/v1/envs/staging/plan?from=dev")
    assert status == 200 and '"passed": false' in body and '"refusal"' in body
