"""Time to first render of the dashboard's matrix in Chromium with a large fleet report, against a baseline
in the same run: the same rows as a static HTML table built by the server (what the browser needs at
the very least to show them).

    .venv/bin/python bench/dashboard.py                  # 1,000 clusters in 5 envs, 5 loads each
    .venv/bin/python bench/dashboard.py --clusters 4000

The hub here is a test hub: its report is filled with synthetic clusters (most Synced and Healthy, some
OutOfSync with drift, Degraded or unreachable) and it reconciles nothing. Times are from navigation start
(performance.now() in the page) to the rows being in the page, and to the next painted frame; the live
refresh is the time the page takes to fetch and redraw the whole matrix after a change event.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import io
import platform
import statistics
import sys
import tempfile
from pathlib import Path

from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fleet.config import FleetConfig  # noqa: E402
from fleet.hub.core import Hub, HubOptions  # noqa: E402
from fleet.hub.log import EventLog  # noqa: E402
from fleet.hub.server import make_app  # noqa: E402
from fleet.model.drift import DriftField, DriftItem, DriftType  # noqa: E402
from fleet.model.health import Code, Health  # noqa: E402
from fleet.model.objects import ObjectKey  # noqa: E402
from fleet.model.report import ClusterReport, SyncState  # noqa: E402
from tests.support.browser import FLAGS  # noqa: E402
from tests.support.hub import free_port  # noqa: E402

ENVS = ("dev", "qa", "staging", "canary", "prod")
REVISION = "3f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39"


def report(index: int) -> ClusterReport:
    env = ENVS[index % len(ENVS)]
    name = f"{env}-{index:04d}"
    labels = {"region": ("eu-west", "us-east", "ap-south")[index % 3], "wave": str(index % 4 + 1)}
    release = {"revision": REVISION, "values": {"image": {"tag": "1.4.2"}}}
    key = ObjectKey("", "ConfigMap", "shop", "shop-config")
    if index % 17 == 0:
        drift = (DriftItem(key, DriftType.CONFLICT, (DriftField("data.LOG_LEVEL", "info", "debug", "kubectl-edit"),)),)
        return ClusterReport(name, env, labels, REVISION, REVISION, SyncState.OUT_OF_SYNC, drift=drift, release=release)
    if index % 29 == 0:
        health = Health(Code.DEGRADED, "ProgressDeadlineExceeded: ReplicaSet has timed out progressing")
        deployment = ObjectKey("apps", "Deployment", "shop", "shop")
        return ClusterReport(
            name, env, labels, REVISION, REVISION, SyncState.SYNCED, health, deployment, release=release
        )
    if index % 97 == 0:
        error = "apiserver https://10.0.0.1:6443 unreachable: connection refused"
        return ClusterReport(
            name, env, labels, REVISION, sync=SyncState.UNKNOWN, error=error, error_since="2026-11-29T00:00:00Z"
        )
    return ClusterReport(name, env, labels, REVISION, REVISION, SyncState.SYNCED, Health(Code.HEALTHY), release=release)


def baseline_page(reports: list[ClusterReport]) -> str:
    """The same rows as server-built HTML: no script, no fetch."""
    rows = []
    for env in sorted({r.env for r in reports}):
        rows.append(f'<tbody><tr class="env-head"><th colspan="7">{env}</th></tr>')
        for r in (r for r in reports if r.env == env):
            cells = [r.name, str(r.sync), r.health.code.label, str(len(r.drift)), r.applied_revision[:12]]
            cells += [REVISION[:12], r.why() or ""]
            rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
        rows.append("</tbody>")
    return (
        '<!doctype html><html><head><link rel="stylesheet" href="/static/style.css"></head><body>'
        f'<table class="matrix">{"".join(rows)}</table>'
        "<script>window.fleetMatrixRenderedAt = window.fleetMatrixCompleteAt = performance.now();"
        "requestAnimationFrame(() => { window.fleetMatrixPaintedAt = performance.now(); });</script></body></html>"
    )


async def until(page: object, expression: str) -> None:
    """Poll ``expression`` (the page's strict CSP forbids the eval behind Playwright's wait_for_function;
    the times measured are recorded inside the page, so the polling step does not count)."""
    while not await page.evaluate(expression):  # type: ignore[attr-defined]
        await asyncio.sleep(0.02)


async def measure(page: object, url: str) -> tuple[float, float, float]:
    """Milliseconds from navigation to: the first rows in the page, their paint, every row in the page."""
    await page.goto(url)  # type: ignore[attr-defined]
    await until(page, "window.fleetMatrixPaintedAt !== undefined && window.fleetMatrixCompleteAt !== undefined")
    times = await page.evaluate(  # type: ignore[attr-defined]
        "[window.fleetMatrixRenderedAt, window.fleetMatrixPaintedAt, window.fleetMatrixCompleteAt]"
    )
    return float(times[0]), float(times[1]), float(times[2])


async def main() -> None:
    from playwright.async_api import async_playwright

    parser = argparse.ArgumentParser()
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--loads", type=int, default=5)
    args = parser.parse_args()
    reports = [report(i) for i in range(args.clusters)]
    with tempfile.TemporaryDirectory() as tmp:
        hub = Hub(HubOptions(repo=tmp, state_dir=Path(tmp)), FleetConfig(Path(tmp)), EventLog("json", io.StringIO()))
        hub.state.reports = {r.name: r for r in reports}
        hub.state.revision = REVISION
        app = make_app(hub)
        page_html = baseline_page(reports)

        async def baseline(_request: web.Request) -> web.Response:
            return web.Response(text=page_html, content_type="text/html")

        async def stylesheet(_request: web.Request) -> web.Response:
            return web.Response(body=(ROOT / "fleet/hub/static/style.css").read_bytes(), content_type="text/css")

        # The baseline on a plain server of its own: the hub's policy (rightly) forbids its inline script.
        plain = web.Application()
        plain.router.add_get("/baseline", baseline)
        plain.router.add_get("/static/style.css", stylesheet)
        runners = [web.AppRunner(app), web.AppRunner(plain)]
        ports = [free_port(), free_port()]
        for runner, port in zip(runners, ports, strict=True):
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port).start()
        url, plain_url = (f"http://127.0.0.1:{port}" for port in ports)
        results: dict[str, list[tuple[float, float, float]]] = {"baseline": [], "dashboard": []}
        refreshes: list[float] = []
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
            page = await browser.new_page(viewport={"width": 1400, "height": 900})
            for _ in range(args.loads):  # interleaved: a slow moment of the machine hits both alike
                results["baseline"].append(await measure(page, plain_url + "/baseline"))
                results["dashboard"].append(await measure(page, url + "/"))
            for _ in range(args.loads):
                before = await page.evaluate("document.body.dataset.rendered")
                hub.changes.bump()
                await until(page, f"document.body.dataset.rendered !== '{before}'")
                refreshes.append(float(await page.evaluate("window.fleetMatrixMs")))
            await browser.close()
        for runner in runners:
            await runner.cleanup()
    version = (await asyncio.create_subprocess_exec("/usr/bin/chromium", "--version", stdout=-1, stderr=-3)).stdout
    chromium = (await version.read()).decode().strip() if version else "chromium"
    print(f"machine: {platform.machine()}, python {platform.python_version()}, {chromium}")
    print(f"{args.clusters} clusters in {len(ENVS)} envs, {args.loads} loads each (median, min-max)")

    def spread(values: list[float]) -> str:
        return f"{statistics.median(values):6.0f} ms ({min(values):.0f}-{max(values):.0f})"

    for name, values in results.items():
        first, painted, complete = ([v[i] for v in values] for i in range(3))
        print(f"  {name:10} first rows {spread(first)}; painted {spread(painted)}; all rows {spread(complete)}")
    dashboard = statistics.median(v[1] for v in results["dashboard"])
    print(f"  dashboard/baseline (first paint): {dashboard / statistics.median(v[1] for v in results['baseline']):.2f}")
    print(f"  live refresh of the whole matrix: {statistics.median(refreshes):.0f} ms median")


if __name__ == "__main__":
    asyncio.run(main())
