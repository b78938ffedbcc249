"""`fleet lab`: build, start, inspect and stop local real control planes."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from fleet.cli import run
from fleet.cli.labhub import lab_hub, stop_demo_hub
from fleet.errors import UsageError
from fleet.lab import kind as kind_backend
from fleet.lab.build import build_binaries
from fleet.lab.local import ClusterEndpoint, LocalLab
from fleet.lab.topology import load_topology
from fleet.lab.versions import KUBERNETES_VERSION, KUBERNETES_VERSIONS, bin_dir, pinned_version
from fleet.output import human_bytes, table
from fleet.paths import default_lab_dir

dir_option = click.option(
    "--dir",
    "lab_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Lab directory (default: $FLEET_LAB_DIR or ~/.local/state/fleet/lab).",
)


def _lab(lab_dir: Path | None) -> LocalLab:
    return LocalLab(lab_dir or default_lab_dir())


def _names(clusters: str | None) -> list[str] | None:
    if clusters is None:
        return None
    names = [n.strip() for n in clusters.split(",") if n.strip()]
    if not names:
        raise UsageError("--clusters needs at least one cluster name")
    return names


def _endpoint_table(endpoints: list[ClusterEndpoint]) -> str:
    return table(
        ["CLUSTER", "VERSION", "API", "KUBECONFIG"],
        [[e.name, e.kubernetes_version, e.server, e.kubeconfig] for e in endpoints],
    )


@click.group()
def lab() -> None:
    """Local real Kubernetes control planes for the fleet (no Docker needed)."""


@lab.command()
@click.option("--force", is_flag=True, help="Rebuild even when the cache has the binaries.")
@click.option(
    "--versions",
    default=",".join(KUBERNETES_VERSIONS),
    show_default=True,
    help="Kubernetes versions to build (comma-separated; the default one is always built).",
)
def build(force: bool, versions: str) -> None:
    """Build etcd, kwok, and kube-apiserver, kube-controller-manager, kube-scheduler (and kubectl) for each
    Kubernetes version the lab runs."""
    wanted = []
    for raw in (v.strip() for v in versions.split(",") if v.strip()):
        pinned = pinned_version(raw)
        if pinned is None:
            raise UsageError(f"--versions: {raw} is not one the lab builds ({', '.join(KUBERNETES_VERSIONS)})")
        wanted.append(pinned)
    started = time.monotonic()
    results = build_binaries(force=force, versions=tuple(wanted), log=lambda m: click.echo(m, err=True))
    built = [r for r in results if r.built]
    click.echo(
        f"lab binaries for Kubernetes {', '.join(wanted) or KUBERNETES_VERSION} in {bin_dir().parent.parent} "
        f"({len(built)} built, {len(results) - len(built)} cached, {time.monotonic() - started:.0f}s)"
    )


@lab.command()
@click.option("--clusters", help="Comma-separated cluster names (default: every kind-config/ file).")
@dir_option
@click.option("--backend", type=click.Choice(["local", "kind"]), default="local", show_default=True)
@click.option(
    "--kind-config",
    "kind_config",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("kind-config"),
    show_default=True,
    help="Cluster topologies (names, worker nodes, node labels).",
)
@click.option("--timeout", type=float, default=180.0, show_default=True, help="Seconds to wait per component.")
@click.option(
    "--build/--no-build", "build_first", default=True, show_default=True, help="Build missing binaries first."
)
def up(
    clusters: str | None, lab_dir: Path | None, backend: str, kind_config: Path, timeout: float, build_first: bool
) -> None:
    """Start (or repair) one real control plane per cluster and print how to reach each."""
    specs = load_topology(kind_config, _names(clusters))
    root = (lab_dir or default_lab_dir()).expanduser()
    started = time.monotonic()
    if backend == "kind":
        endpoints = kind_backend.up(root, specs)
    else:
        if build_first:
            versions = tuple(sorted({s.kubernetes_version for s in specs}))
            build_binaries(versions=versions, log=lambda m: click.echo(m, err=True))
        endpoints = run(_lab(lab_dir).up(specs, timeout=timeout, log=lambda m: click.echo(m, err=True)))
    click.echo(_endpoint_table(endpoints))
    click.echo(
        f"\nready in {time.monotonic() - started:.1f}s; all contexts: {root / 'kubeconfigs' / 'all.kubeconfig'}",
        err=True,
    )


lab.add_command(lab_hub)


@lab.command()
@dir_option
def down(lab_dir: Path | None) -> None:
    """Stop everything the lab started and remove its directory."""
    started = time.monotonic()
    if stop_demo_hub():
        click.echo("demo hub stopped")
    target = _lab(lab_dir)
    target.down()
    click.echo(f"lab at {target.paths.root} is down ({time.monotonic() - started:.1f}s)")


@lab.command()
@dir_option
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
def status(lab_dir: Path | None, output: str) -> None:
    """Show the lab's clusters and the state of every process."""
    target = _lab(lab_dir)
    rows = target.status()
    if output == "json":
        click.echo(
            json.dumps(
                {
                    "dir": str(target.paths.root),
                    "clusters": [
                        {
                            "name": e.name,
                            "kubernetesVersion": e.kubernetes_version,
                            "server": e.server,
                            "kubeconfig": str(e.kubeconfig),
                        }
                        for e in target.endpoints()
                    ],
                    "processes": [
                        {"name": r.process, "state": r.state, "pid": r.pid, "rssBytes": r.rss_bytes} for r in rows
                    ],
                },
                indent=2,
            )
        )
        return
    if not rows:
        click.echo(f"no lab in {target.paths.root}")
        return
    click.echo(_endpoint_table(target.endpoints()))
    click.echo()
    click.echo(
        table(
            ["PROCESS", "STATE", "PID", "RSS"],
            [[r.process, r.state, r.pid or "-", human_bytes(r.rss_bytes)] for r in rows],
        )
    )
