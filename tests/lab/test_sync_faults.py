"""A sync killed with SIGKILL halfway, then a changed commit: no orphans, nothing lost."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.support.lab import LabSession, wait_for
from tests.support.labrepo import MANY, FleetRepo, fleet_configmaps


async def test_sigkill_mid_sync_then_a_new_commit_leaves_no_orphans(
    dev_only: FleetRepo, lab_session: LabSession
) -> None:
    fleet = dev_only
    fleet.commit({"overlays/dev/many.yaml": MANY})
    env = {**os.environ, "FLEET_CREDENTIALS_DIR": str(fleet.config.credentials_dir)}
    # The CLI has no --inventory flag: this fleet uses the default inventory name on its own namespace, so
    # give it a cluster-wide name of its own through the sync options of a small driver instead.
    driver = (
        "import asyncio, sys\n"
        "from tests.support.labrepo import sync_from_cli_process\n"
        f"asyncio.run(sync_from_cli_process({str(fleet.root)!r}, {fleet.inventory!r}))\n"
    )
    process = subprocess.Popen([sys.executable, "-c", driver], env=env, cwd=Path(__file__).parents[2])
    try:

        async def some_applied() -> bool:
            return len(await fleet_configmaps(lab_session, fleet.namespace)) >= 10

        await wait_for(some_applied, timeout=60, interval=0.05, what="the sync to be halfway")
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    partial = await fleet_configmaps(lab_session, fleet.namespace)
    assert 10 <= len(partial) < 151, "the kill came too late to test anything"

    # The next commit keeps only cm-100..cm-149: whatever the killed sync created (it applies in name
    # order) must go.
    keep = "\n---\n".join(MANY.split("\n---\n")[100:])
    fleet.commit({"overlays/dev/many.yaml": keep})
    result = await fleet.sync(force_prune=True)
    assert not result["dev-1"].failed, result["dev-1"].error
    expected = {f"cm-{i:03d}" for i in range(100, 150)} | {"settings"}
    assert await fleet_configmaps(lab_session, fleet.namespace) == expected
    again = await fleet.sync()
    assert again["dev-1"].writes == 0
    await asyncio.sleep(0)
