"""`fleet lab up` / `down` on a lab of its own: crash recovery, and nothing left behind."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from fleet.lab.build import missing_binaries
from fleet.lab.local import LocalLab
from fleet.lab.topology import ClusterSpec, default_nodes
from tests.support.lab import in_ci


def _fleet(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "fleet", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _lab_pids(root: Path) -> list[int]:
    marker = str(root) + "/"
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if marker in (proc / "cmdline").read_bytes().decode(errors="replace"):
                    pids.append(int(proc.name))
            except OSError:
                continue
    return pids


@pytest.fixture
def own_lab(tmp_path: Path) -> LocalLab:
    if missing_binaries():
        if in_ci():
            pytest.fail("lab binaries missing in CI", pytrace=False)
        pytest.skip("lab binaries not built")
    return LocalLab(tmp_path / "lab")


async def test_up_recovers_after_kill_9_and_stale_pid_files_then_down_leaves_nothing(own_lab: LocalLab) -> None:
    spec = ClusterSpec("solo", default_nodes("solo"))
    try:
        await own_lab.up([spec], log=lambda _m: None)
        state = own_lab.state()
        assert state is not None
        port = state.clusters["solo"].port
        # A crash: the apiserver and the scheduler die without cleanup; a pid file is left pointing at
        # a pid that is now someone else's (our own test process).
        own_lab.kill("solo.kube-apiserver")
        own_lab.kill("solo.kube-scheduler")
        (own_lab.paths.run / "solo.kwok.pid").write_text(f"{os.getpid()} 0\n")
        await own_lab.up([spec], log=lambda _m: None)
        rows = {r.process: r.state for r in own_lab.status()}
        assert set(rows.values()) == {"running"}, rows
        assert own_lab.state().clusters["solo"].port == port  # type: ignore[union-attr]
    finally:
        own_lab.down()
    assert not own_lab.paths.root.exists()
    assert _lab_pids(own_lab.paths.root) == []
    assert _port_free(port)


def test_cli_up_status_down(own_lab: LocalLab) -> None:
    root = str(own_lab.paths.root)
    try:
        up = _fleet("lab", "up", "--dir", root, "--clusters", "a,b")
        assert up.returncode == 0, up.stderr
        assert "a" in up.stdout and "b.kubeconfig" in up.stdout
        status = _fleet("lab", "status", "--dir", root, "-o", "json")
        assert status.returncode == 0, status.stderr
        assert "BEGIN" not in status.stdout + up.stdout + up.stderr  # no key material printed
    finally:
        down = _fleet("lab", "down", "--dir", root)
    assert down.returncode == 0, down.stderr
    assert not Path(root).exists()
    assert _lab_pids(Path(root)) == []
    bad = _fleet("lab", "up", "--dir", root, "--clusters", "Bad_Name")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
