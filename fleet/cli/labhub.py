"""`fleet lab hub`: a hub for the example fleet on the local lab, in the background, with its dashboard.

The demo's last step. The hub runs as its own process (``python -m fleet hub``) in a new session, so it
outlives the command; its pid, API token (0600), log and Git state live in one directory under fleet's
state home. Starting again replaces a hub started before; ``--stop`` and ``fleet lab down`` stop it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import click

from fleet.errors import UsageError
from fleet.paths import state_home

READY_TIMEOUT = 60.0


def hub_dir() -> Path:
    return state_home() / "demo-hub"


def stop_demo_hub() -> bool:
    """Stop the background hub, if one runs; whether one did."""
    pid_file = hub_dir() / "hub.pid"
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return False
    pid_file.unlink(missing_ok=True)
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False  # gone already
    if b"fleet" not in command or b"hub" not in command:
        return False  # the pid was reused by another program: never signal it
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            time.sleep(0.1)
            os.kill(pid, 0)
        os.kill(pid, signal.SIGKILL)
    return True


def _token(directory: Path) -> Path:
    path = directory / "token"
    if not path.exists():
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(secrets.token_urlsafe(24) + "\n")
    return path


def _ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-3:]
            raise UsageError("the hub stopped at once: " + (" | ".join(tail) or f"exit code {process.returncode}"))
        with (
            contextlib.suppress(urllib.error.URLError, OSError),
            urllib.request.urlopen(url + "/readyz", timeout=2) as response,
        ):
            if response.status == 200:
                return
        time.sleep(0.3)
    raise UsageError(f"the hub did not answer on {url} within {READY_TIMEOUT:.0f}s; its log: {log}")


@click.command("hub")
@click.option("--repo", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True)
@click.option("--listen", default="127.0.0.1:8080", show_default=True, help="The hub's address (API and dashboard).")
@click.option("--self-heal", "self_heal", default="dev", show_default=True, help="Envs whose drift is corrected.")
@click.option("--stop", is_flag=True, help="Stop the background hub instead.")
def lab_hub(repo: Path, listen: str, self_heal: str, stop: bool) -> None:
    """Run a hub for REPO's fleet in the background and print its dashboard's URL."""
    if stop:
        click.echo("demo hub stopped" if stop_demo_hub() else "no demo hub was running")
        return
    if not (repo / ".git").exists():
        raise UsageError(f"--repo {repo}: not a Git repository (the hub reads commits, not files)")
    stop_demo_hub()
    directory = hub_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    log = directory / "hub.log"
    command = [sys.executable, "-m", "fleet", "hub", "--repo", str(repo.resolve()), "--listen", listen]
    command += ["--token-file", str(_token(directory)), "--state-dir", str(directory / "state")]
    command += ["--self-heal", self_heal, "--interval", "30s"]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    (directory / "hub.pid").write_text(f"{process.pid}\n")
    url = f"http://{listen}"
    _ready(url, process, log)
    click.echo(f"dashboard: {url}/")
    click.echo(f"  API token (for 'Sync now'): {directory / 'token'}")
    click.echo(f"  hub log: {log}; stop it with `fleet lab hub --stop` (or `fleet lab down`)")
