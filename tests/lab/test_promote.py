"""Promotion dev -> staging -> prod against the real lab and a real bare Git remote."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import git
import pytest
from click.testing import CliRunner
from kubernetes_asyncio import client

from fleet.cli import cli
from tests.support.lab import LabSession
from tests.support.labrepo import FleetRepo

CLUSTERS = {"dev-1": "dev", "staging-1": "staging", "prod-eu-1": "prod"}


def image_template(fleet: FleetRepo) -> str:
    return (fleet.root / "overlays/base/app.yaml").read_text()


@pytest.fixture
def promo(tmp_path: Path, lab_session: LabSession) -> FleetRepo:
    fleet = FleetRepo(tmp_path / "seed", lab_session, CLUSTERS)
    first = fleet.repo.head.commit.hexsha
    fleet.commit(
        {
            "overlays/dev/release.yaml": "revision: HEAD\nvalues: {tag: '2'}\n",
            "overlays/staging/release.yaml": f"revision: {first}\nvalues: {{tag: '1'}}\n",
            "overlays/prod/release.yaml": f"revision: {first}\nvalues: {{tag: '1'}}\n",
        },
        "pins",
    )
    remote = git.Repo.clone_from(str(fleet.root), str(tmp_path / "remote.git"), bare=True)
    work = git.Repo.clone_from(remote.git_dir, str(tmp_path / "work"))
    fleet.repo, fleet.root = work, Path(work.working_tree_dir or "")
    return fleet


def fleet_cli(fleet: FleetRepo, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [*args, "--repo", str(fleet.root)], env=fleet.cli_env())
    return result.exit_code, result.stdout + result.stderr


async def images(fleet: FleetRepo) -> dict[str, str]:
    found = {}
    for cluster in CLUSTERS:
        async with fleet.lab.api(cluster) as api:
            dep = await client.AppsV1Api(api).read_namespaced_deployment("web", fleet.namespace)
            found[cluster] = dep.spec.template.spec.containers[0].image.rsplit(":", 1)[1]
    return found


def sync_all(fleet: FleetRepo) -> None:
    fleet.repo.remotes.origin.pull()
    results = asyncio.run(fleet.sync(wait=True, wait_timeout=60, force_conflicts=True))
    assert not any(cs.failed for cs in results.values()), {c: cs.error for c, cs in results.items()}


def test_dev_to_staging_to_prod_refusal_history_and_rollback(promo: FleetRepo) -> None:
    sync_all(promo)
    assert asyncio.run(images(promo)) == {"dev-1": "2", "staging-1": "1", "prod-eu-1": "1"}

    code, out = fleet_cli(promo, "promote", "--from", "dev", "--to", "staging", "-m", "ship tag 2")
    assert code == 0, out
    assert "gate dev-1: pass" in out and "promoted dev -> staging" in out
    sync_all(promo)
    assert asyncio.run(images(promo))["staging-1"] == "2"

    async def break_staging() -> None:
        async with promo.lab.api("staging-1") as api:
            await client.CoreV1Api(api).delete_namespaced_config_map("settings", promo.namespace)

    asyncio.run(break_staging())
    code, out = fleet_cli(promo, "promote", "--from", "staging", "--to", "prod")
    assert code == 1
    assert "refused: staging-1: 1 drifted: missing ConfigMap/" in out and "/settings" in out
    sync_all(promo)  # repairs staging

    code, out = fleet_cli(promo, "promote", "--from", "staging", "--to", "prod", "--dry-run")
    assert code == 0, out
    assert (
        "prod-eu-1: configured Deployment.apps/" in out and "example.invalid/web:1' -> 'example.invalid/web:2'" in out
    )
    code, out = fleet_cli(promo, "promote", "--from", "staging", "--to", "prod")
    assert code == 0, out
    sync_all(promo)
    assert asyncio.run(images(promo)) == {"dev-1": "2", "staging-1": "2", "prod-eu-1": "2"}

    code, out = fleet_cli(promo, "promote", "--from", "prod", "--to", "staging", "--branch", "review-me")
    assert code == 0 and "on origin/review-me" in out, out
    promo.repo.remotes.origin.fetch()
    assert "promote prod -> staging" in promo.repo.commit("origin/review-me").message
    assert promo.repo.commit("origin/main").message.startswith("promote staging -> prod")  # main untouched

    code, out = fleet_cli(promo, "history", "prod", "-o", "json")
    assert code == 0 and '"from": "staging"' in out and '"passed": true' in out

    code, out = fleet_cli(promo, "rollback", "prod", "-m", "tag 2 broke checkout")
    assert code == 0, out
    sync_all(promo)
    assert asyncio.run(images(promo))["prod-eu-1"] == "1"
    code, out = fleet_cli(promo, "history", "prod")
    assert out.splitlines()[1].split()[1] == "rollback"
    # Every step is an ordinary commit on the remote: no force-push rewrote anything.
    log = [c.message.splitlines()[0] for c in promo.repo.iter_commits("origin/main", max_count=4)]
    assert log[0].startswith("rollback prod") and log[1].startswith("promote staging -> prod")


def test_bad_promotions_are_clear_errors(promo: FleetRepo) -> None:
    code, out = fleet_cli(promo, "promote", "--from", "dev", "--to", "dev")
    assert code == 2 and "same env" in out
    code, out = fleet_cli(promo, "promote", "--from", "qa", "--to", "prod")
    assert code == 2 and "unknown env 'qa'; envs: dev, prod, staging" in out
    promo.commit({"overlays/staging/release.yaml": "revision: no-such-ref\n"})
    promo.repo.remotes.origin.push()
    code, out = fleet_cli(promo, "promote", "--from", "staging", "--to", "prod")
    assert code != 0 and "no-such-ref" in out and "Traceback" not in out


def test_concurrent_promotions_both_land_without_losing_a_commit(promo: FleetRepo, tmp_path: Path) -> None:
    sync_all(promo)
    # A second clone promotes at the same time as the first: one push is rejected and retried on top.
    other = git.Repo.clone_from(promo.repo.remotes.origin.url, str(tmp_path / "other"))
    env = {**os.environ, **promo.cli_env()}
    command = [sys.executable, "-m", "fleet", "promote", "--from", "dev", "--to", "staging"]
    processes = [
        subprocess.Popen(
            # Different messages: two distinct commits (identical ones would be one commit, harmlessly).
            [*command, "--repo", str(path), "-m", f"from clone {n}"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for n, path in enumerate((promo.root, Path(other.working_tree_dir or "")))
    ]
    outputs = [p.communicate(timeout=120)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    promo.repo.remotes.origin.fetch()
    history = list(promo.repo.iter_commits("origin/main", max_count=3))
    messages = [c.message for c in history[:2]]
    assert sorted("from clone 0" in m for m in messages) == [False, True]
    assert all(m.startswith("promote dev -> staging") for m in messages)
    for output in outputs:  # every commit a process reported is in the remote's history: none was lost
        reported = output.rsplit("in commit ", 1)[1].split()[0]
        assert any(c.hexsha.startswith(reported) for c in history[:2]), output
