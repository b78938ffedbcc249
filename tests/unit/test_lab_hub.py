"""`fleet lab hub`: the background hub of the demo is stopped by its pid file, and never a process that
merely reuses its pid; a path that is not a Git repository is a usage error."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from fleet.cli import cli
from fleet.cli.labhub import hub_dir, stop_demo_hub


def test_a_pid_reused_by_another_program_is_never_signalled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    other = subprocess.Popen(["sleep", "30"])
    try:
        hub_dir().mkdir(parents=True)
        (hub_dir() / "hub.pid").write_text(f"{other.pid}\n")
        assert stop_demo_hub() is False
        assert other.poll() is None  # still running
        assert not (hub_dir() / "hub.pid").exists()
    finally:
        other.kill()
        other.wait()


def test_no_pid_file_means_no_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    result = CliRunner().invoke(cli, ["lab", "hub", "--stop"])
    assert result.exit_code == 0 and "no demo hub was running" in result.output


def test_a_directory_without_git_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    result = CliRunner().invoke(cli, ["lab", "hub", "--repo", str(tmp_path)])
    assert result.exit_code != 0 and "not a Git repository" in result.output
    assert "Traceback" not in result.output
