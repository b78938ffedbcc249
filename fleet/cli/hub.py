"""`fleet hub`: run the agent."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
from dataclasses import dataclass
from pathlib import Path

import click
from aiohttp import web

from fleet.cli import run
from fleet.cli.common import DURATION
from fleet.config import FleetConfig
from fleet.errors import UsageError
from fleet.hub.core import Hub, HubOptions
from fleet.hub.log import EventLog
from fleet.hub.replication import Management
from fleet.hub.server import make_app
from fleet.hub.shards import ShardSettings
from fleet.kube.client import in_cluster_namespace, open_management
from fleet.paths import state_home
from fleet.repo.source import redact

FILE = click.Path(dir_okay=False, path_type=Path)
DEFAULT_NAMESPACE = "fleet-hub"
IDENTITY = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,198}[a-z0-9])?$")
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
@click.option(
    "--management-kubeconfig",
    type=FILE,
    default=None,
    help="Run as one of several replicas coordinating through Leases in this cluster.",
)
@click.option("--management-context", default=None, help="Context of --management-kubeconfig.")
@click.option(
    "--in-cluster", is_flag=True, help="Run as a replica in a pod: the management cluster is the pod's own cluster."
)
@click.option("--namespace", default=None, help="Namespace of the Leases and credential Secrets [pod's, or fleet-hub].")
@click.option("--identity", default=None, help="This replica's unique name [$POD_NAME, else host-pid].")
@click.option("--advertise", default=None, help="URL where the other replicas reach this one's API.")
@click.option("--lease-duration", type=DURATION, default="10s", show_default=True, help="Replica Lease duration.")
@click.option("--lease-renew", type=DURATION, default="2s", show_default=True, help="Replica Lease renewal period.")
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
    management_kubeconfig: Path | None,
    management_context: str | None,
    in_cluster: bool,
    namespace: str | None,
    identity: str | None,
    advertise: str | None,
    lease_duration: float,
    lease_renew: float,
) -> None:
    """Run the hub: keep every cluster of the registry matching Git, and serve the fleet report.

    With --management-kubeconfig or --in-cluster, several hubs share the fleet: each cluster is
    reconciled by the one replica holding its Lease, and every replica serves the whole fleet's report."""
    host, port = _listen(listen)
    if management_kubeconfig and in_cluster:
        raise UsageError("give --management-kubeconfig or --in-cluster, not both")
    sharded = management_kubeconfig is not None or in_cluster
    if not 1 <= lease_renew * 2 <= lease_duration:
        raise UsageError("--lease-renew must be at least 0.5s and at most half of --lease-duration")
    identity = identity or os.environ.get("POD_NAME") or f"{socket.gethostname().lower()}-{os.getpid()}"
    if not IDENTITY.match(identity):
        # It names this replica's Lease and goes into every request's User-Agent: a DNS name, unique.
        raise UsageError(f"--identity {identity!r}: use lowercase letters, digits, '-' and '.' (at most 200)")
    options = HubOptions(
        repo=repo if "://" in repo or "@" in repo else str(Path(repo).resolve()),
        branch=branch,
        interval=interval,
        self_heal=frozenset(e.strip() for e in self_heal.split(",") if e.strip()),
        state_dir=(state_dir or state_home() / "hub").resolve(),
        token=_secret(token_file, "FLEET_HUB_TOKEN", "token"),
        webhook_secret=_secret(webhook_secret_file, "FLEET_WEBHOOK_SECRET", "webhook secret"),
        identity=identity,
    )
    config = FleetConfig.load(config_path)
    replica = None
    if sharded:
        replica = Replica(
            kubeconfig=management_kubeconfig,
            context=management_context,
            namespace=namespace or in_cluster_namespace() or DEFAULT_NAMESPACE,
            settings=ShardSettings(
                identity=identity,
                address=advertise or _advertised(host, port),
                duration=lease_duration,
                renew=lease_renew,
                margin=lease_renew,
            ),
        )
    run(_start(options, config, EventLog(log_format), replica, host, port))


@dataclass(frozen=True)
class Replica:
    kubeconfig: Path | None
    context: str | None
    namespace: str
    settings: ShardSettings


def _advertised(host: str, port: int) -> str:
    address = os.environ.get("POD_IP") or ("127.0.0.1" if host in ("0.0.0.0", "::", "") else host)
    return f"http://[{address}]:{port}" if ":" in address else f"http://{address}:{port}"


async def _start(
    options: HubOptions, config: FleetConfig, log: EventLog, replica: Replica | None, host: str, port: int
) -> None:
    management = None
    if replica is not None:
        api = await open_management(
            replica.kubeconfig, replica.context, user_agent=f"fleet-hub/{replica.settings.identity}"
        )
        management = Management(api, replica.namespace, replica.settings)
    try:
        await _serve(Hub(options, config, log, management=management), host, port)
    finally:
        if management is not None:
            await management.api.close()


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
    hub.log(
        "listening",
        address=f"http://{host}:{port}",
        repo=redact(hub.options.repo),
        branch=hub.options.branch,
        replica=hub.options.identity or None,
    )
    try:
        await hub.start()
        await stop.wait()
        hub.log("shutdown", reason="signal")
    finally:
        await hub.stop()
        await runner.cleanup()
