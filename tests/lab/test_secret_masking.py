"""Secret values never leave fleet: plan, sync, drift and status show which keys were added, changed or
removed, in every output format, never a value (plain or base64), from Git or from the cluster."""

from __future__ import annotations

import asyncio
import base64

from click.testing import CliRunner
from kubernetes_asyncio import client

from fleet.cli import cli
from tests.support.lab import LabSession
from tests.support.labrepo import FleetRepo

GIT_V1, GIT_V2, LIVE_EDIT, TOKEN_V1, TOKEN_V2, ADDED = (
    "git-password-value-one",
    "git-password-value-two",
    "live-password-edited-by-hand",
    "git-token-value-one",
    "git-token-value-two",
    "a-key-added-later-value",
)
SECRETS = [GIT_V1, GIT_V2, LIVE_EDIT, TOKEN_V1, TOKEN_V2, ADDED]


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def secret(password: str, token: str, extra: str = "") -> str:
    more = f"\n  added: {b64(extra)}" if extra else ""
    return (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\n"
        f"data:\n  password: {b64(password)}{more}\nstringData:\n  token: {token}\n"
    )


def assert_no_value(output: str) -> None:
    for value in SECRETS:
        assert value not in output and b64(value) not in output, f"a Secret value leaked: {value}"
        assert b64(value).rstrip("=") not in output


def run(fleet: FleetRepo, *args: str) -> str:
    result = CliRunner().invoke(cli, [*args, "--repo", str(fleet.root)], env=fleet.cli_env())
    output = result.stdout + result.stderr
    assert result.exit_code in (0, 1, 3), output
    assert "Traceback" not in output
    return output


async def test_secret_values_are_masked_in_every_output(dev_only: FleetRepo, lab_session: LabSession) -> None:
    fleet = dev_only
    fleet.commit({"overlays/base/secret.yaml": secret(GIT_V1, TOKEN_V1)})
    first = await fleet.sync()
    assert not first["dev-1"].failed, first["dev-1"].error
    # someone edits the live value; Git then changes the token and adds a key
    async with lab_session.api("dev-1") as api:
        patch = {"data": {"password": b64(LIVE_EDIT)}}
        core = client.CoreV1Api(api)
        await core.patch_namespaced_secret("creds", fleet.namespace, patch, field_manager="kubectl-edit")
    fleet.commit({"overlays/base/secret.yaml": secret(GIT_V2, TOKEN_V2, ADDED)})

    outputs = await asyncio.to_thread(
        lambda: {
            "plan": run(fleet, "plan"),
            "plan json": run(fleet, "plan", "-o", "json"),
            "plan markdown": run(fleet, "plan", "-o", "markdown"),
            "drift": run(fleet, "drift", "dev-1"),
            "drift json": run(fleet, "drift", "dev-1", "-o", "json"),
            "drift yaml": run(fleet, "drift", "dev-1", "-o", "yaml"),
            "status json": run(fleet, "status", "-o", "json"),
            "sync json": run(fleet, "sync", "-o", "json", "--force-conflicts"),
        }
    )
    for name, output in outputs.items():
        assert_no_value(output)
        if name.startswith(("plan", "drift", "sync")):
            assert "password" in output and "(hidden" in output, (name, output)
    assert "data.added" in outputs["plan"], outputs["plan"]
    # the sync did apply the real values
    async with lab_session.api("dev-1") as api:
        live = await client.CoreV1Api(api).read_namespaced_secret("creds", fleet.namespace)
    assert base64.b64decode(live.data["password"]).decode() == GIT_V2
    assert base64.b64decode(live.data["token"]).decode() == TOKEN_V2
