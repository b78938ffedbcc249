"""`fleet hub`: run the agent."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import click
from aiohttp import web

from fleet.cli import run
from fleet.cli.common import DURATION
from fleet.config import FleetConfig
from fleet.errors import UsageError
from fleet.hub.core import Hub, HubOptions
from fleet.hub.log import EventLog
from fleet.hub.server import make_app
from fleet.paths import state_home
from fleet.repo.source import redact

FILE = click.Path(dir_okay=False, path_type=Path)
DIRECTORY = click.Path(file_okay=False, path_type=Path)


def _secret(file: Path | None, env: str, what: str) -> str | None:
    if file is not None:
        try:
            value = file.read_text().strip()
        except OSError as exc:
            raise UsageError(f"{what} file {file}: {exc.strerror}") from None
        if not value:
            raise UsageError(f"{what} file {file} is empty")
        return value
    return os.environ.get(env) or None


def _listen(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--listen {text!r}: expected HOST:PORT, for example 127.0.0.1:8080")
    return host, int(port)


@click.command()
@click.option("--repo", required=True, help="The fleet repository: a URL or a local path (bare or not).")
@click.option("--branch", default="main", show_default=True)
@click.option("--interval", type=DURATION, default="60s", show_default=True, help="Git poll and resync interval.")
@click.option("--listen", default="127.0.0.1:8080", show_default=True, help="HTTP API address.")
@click.option("--self-heal", "self_heal", default="", help="Envs whose drift is corrected, e.g. dev,staging.")
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Bearer token for POST /api/v1/sync (else $FLEET_HUB_TOKEN).",
)
@click.option(
    "--webhook-secret-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Git webhook secret (else $FLEET_WEBHOOK_SECRET).",
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the hub keeps its Git clone.",
)
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--config", "config_path", type=FILE, default=None, help="The hub's own config file.")
def hub(
    repo: str,
    branch: str,
    interval: float,
    listen: str,
    self_heal: str,
    token_file: Path | None,
    webhook_secret_file: Path | None,
    state_dir: Path | None,
    log_format: str,
    config_path: Path | None,
) -> None:
    """Run the hub: keep every cluster of the registry matching Git, and serve the fleet report."""
    host, port = _listen(listen)
    options = HubOptions(
        repo=repo if "://" in repo or "@" in repo else str(Path(repo).resolve()),
        branch=branch,
        interval=interval,
        self_heal=frozenset(e.strip() for e in self_heal.split(",") if e.strip()),
        state_dir=(state_dir or state_home() / "hub").resolve(),
        token=_secret(token_file, "FLEET_HUB_TOKEN", "token"),
        webhook_secret=_secret(webhook_secret_file, "FLEET_WEBHOOK_SECRET", "webhook secret"),
    )
    config = FleetConfig.load(config_path)
    run(_serve(Hub(options, config, EventLog(log_format)), host, port))


async def _serve(hub: Hub, host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runner = web.AppRunner(make_app(hub), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    hub.log("listening", address=f"http://{host}:{port}", repo=redact(hub.options.repo), branch=hub.options.branch)
    try:
        await hub.start()
        await stop.wait()
        hub.log("shutdown", reason="signal")
    finally:
        await hub.stop()
        await runner.cleanup()
