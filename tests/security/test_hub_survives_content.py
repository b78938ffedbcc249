"""No commit can stop the hub: every revision that cannot be loaded is reported with its revision, the last
good revision keeps being managed, and the next good commit is adopted. A hub that starts on a bad
revision starts, reports it and waits. (Clusters here are unreachable on purpose: what is under test is
the hub's handling of Git content, which needs no cluster.)"""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import git
import pytest

from fleet.config import FleetConfig
from fleet.hub.core import Hub, HubOptions
from tests.support.fleetfiles import MINIMAL, commit_files, git_repo
from tests.support.hub import serve_hub

TOKEN = "hub-test-token"

BAD_COMMITS = {
    "release pin values as a list": {"overlays/dev/release.yaml": "values: [1, 2]\n"},
    "release pin as a number": {"overlays/dev/release.yaml": "12345\n"},
    "release pin revision as a mapping": {"overlays/dev/release.yaml": "revision: {a: 1}\n"},
    "release pin not UTF-8": {"overlays/dev/release.yaml": None},
    "env settings with a huge number": {"overlays/dev/env.yaml": "rollout: {waveTimeout: 1" + "0" * 400 + "}\n"},
    "env settings deeply nested": {"overlays/dev/env.yaml": "rollout: " + "[" * 5000 + "]" * 5000 + "\n"},
    "env settings with a tag": {"overlays/dev/env.yaml": "rollout: !!binary aGVsbG8=\n"},
    "cluster entry with odd types": {"clusters/dev-1.yaml": "env: dev\nkubeconfig: k\nlabels: {? [a]: b}\n"},
    "cluster entry deeply nested": {"clusters/dev-1.yaml": "env: dev\nkubeconfig: k\nvalues: " + "{a: " * 3000},
    "cluster entry with a number as a label name": {"clusters/dev-1.yaml": "env: dev\nkubeconfig: k\nlabels: {1: b}\n"},
    "registry emptied": {"clusters/dev-1.yaml": "# nothing\n"},
}


@contextlib.asynccontextmanager
async def hub_on(remote: Path, state: Path) -> AsyncIterator[tuple[Hub, str]]:
    config = FleetConfig(state / "credentials")
    options = HubOptions(repo=str(remote), interval=3600, state_dir=state, token=TOKEN, webhook_secret="s")
    async with serve_hub(options, config, io.StringIO()) as running:
        yield running.hub, running.url


def commit(repo: git.Repo, files: dict[str, str | None], message: str) -> str:
    if files.get("overlays/dev/release.yaml", "") is None:  # bytes that are not UTF-8
        path = Path(repo.working_tree_dir or ".") / "overlays/dev/release.yaml"
        path.write_bytes(b"revision: \xff\xfe\n")
        repo.index.add(["overlays/dev/release.yaml"])
        return str(repo.index.commit(message).hexsha)
    return commit_files(repo, files, message)


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


@pytest.mark.parametrize("files", BAD_COMMITS.values(), ids=BAD_COMMITS.keys())
async def test_a_bad_commit_is_reported_and_the_last_good_revision_kept(tmp_path: Path, files: dict) -> None:
    repo = git_repo(tmp_path / "repo", MINIMAL)
    good = repo.head.commit.hexsha
    async with hub_on(tmp_path / "repo", tmp_path / "state") as (hub, url):
        assert hub.state.revision == good
        bad = commit(repo, files, "bad")
        await hub.refresh()
        await hub.refresh()  # a second look at the same bad revision keeps reporting it
        status, text = await get(url + "/api/v1/fleet")
        assert status == 200 and bad[:12] in text
        assert hub.state.revision == good, "the last good revision is still managed"
        assert hub.state.git_error and bad[:12] in hub.state.git_error
        assert any(name in hub.state.git_error for name in files), hub.state.git_error
        assert hub.polling
        _, metrics = await get(url + "/metrics")
        assert "fleet_source_error 1.0" in metrics
        fixed = commit_files(repo, {path: MINIMAL.get(path) for path in files}, "fix")
        await hub.refresh()
        assert hub.state.revision == fixed and hub.state.git_error is None
        assert (await get(url + "/readyz"))[0] == 200
        assert "fleet_source_error 0.0" in (await get(url + "/metrics"))[1]


async def test_a_hub_started_on_a_bad_revision_starts_reports_and_waits(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo", {**MINIMAL, "overlays/dev/release.yaml": "values: [1]\n"})
    commit_files(repo, {"clusters/dev-1.yaml": "env: dev\nkubeconfig: k\nlabels: [nope]\n"}, "bad registry")
    async with hub_on(tmp_path / "repo", tmp_path / "state") as (hub, url):
        status, text = await get(url + "/readyz")
        assert status == 503 and "not applied" in text and "labels" in text
        fleet = await get(url + "/api/v1/fleet")
        assert fleet[0] == 200 and "labels" in fleet[1]
        fixed = commit_files(repo, {**MINIMAL, "overlays/dev/release.yaml": None}, "fix")
        await hub.refresh()
        assert hub.state.revision == fixed
        assert (await get(url + "/readyz"))[0] == 200


async def test_render_failures_name_the_revision_file_and_line(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo", MINIMAL)
    async with hub_on(tmp_path / "repo", tmp_path / "state") as (hub, _url):
        bad = commit_files(repo, {"overlays/base/app.yaml": "kind: {{ values.nope }}\n"}, "template error")
        await hub.refresh()
        for _ in range(100):
            report = hub.state.reports.get("dev-1")
            if report and report.error and "render" in report.error:
                break
            await asyncio.sleep(0.05)
        assert report is not None and report.error
        assert bad[:12] in report.error and "overlays/base/app.yaml:1" in report.error
        assert 'fleet_reconciles_total{cluster="dev-1",result="render_error"}' in hub.metrics.render().decode()


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"X-Hub-Signature-256": "sha256=\u00e9\u00e9"}, b"{}"),
        ({"X-Gitlab-Token": "t\u00f6ken"}, b"{}"),
    ],
)
async def test_webhook_headers_that_are_not_ascii_are_refused_not_crashed(
    tmp_path: Path, headers: dict[str, str], body: bytes
) -> None:
    git_repo(tmp_path / "repo", MINIMAL)
    async with hub_on(tmp_path / "repo", tmp_path / "state") as (_hub, url):
        encoded = {k: v.encode().decode("latin-1") for k, v in headers.items()}
        async with (
            aiohttp.ClientSession() as session,
            session.post(url + "/api/v1/webhooks/git", data=body, headers=encoded) as response,
        ):
            assert response.status == 401


@pytest.mark.parametrize(
    "body",
    [b"[1]", b'{"clusters": "dev-1"}', b'{"clusters": [1]}', b'{"selector": 5}', b'{"nope": 1}', b"\xff", b"{"],
)
async def test_sync_requests_with_malformed_bodies_get_400(tmp_path: Path, body: bytes) -> None:
    git_repo(tmp_path / "repo", MINIMAL)
    async with hub_on(tmp_path / "repo", tmp_path / "state") as (_hub, url):
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        async with (
            aiohttp.ClientSession() as session,
            session.post(url + "/api/v1/sync", data=body, headers=headers) as response,
        ):
            assert response.status == 400, await response.text()


async def test_a_committed_symlink_is_reported_and_not_retried_as_a_git_failure(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo", MINIMAL)
    good = repo.head.commit.hexsha
    async with hub_on(tmp_path / "repo", tmp_path / "state") as (hub, _url):
        link = Path(repo.working_tree_dir or ".") / "overlays/base/leak.yaml"
        link.symlink_to("/etc/passwd")
        repo.index.add(["overlays/base/leak.yaml"])
        bad = str(repo.index.commit("link").hexsha)
        await hub.refresh()
        assert hub.state.revision == good and hub.state.bad_revision == bad
        assert "overlays/base/leak.yaml: a symbolic link" in (hub.state.git_error or "")
