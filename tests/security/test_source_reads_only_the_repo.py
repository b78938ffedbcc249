"""Reading the fleet (from Git or, with --local, from the working tree) never reads outside the
repository: symbolic links and special files are refused by name, sizes are bounded, and credentials in
repository URLs are redacted whole."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from fleet.cli import cli
from fleet.repo.source import ContentError, Repository, redact, working_tree
from tests.support.fleetfiles import MINIMAL, git_repo

HOST_SECRET = "host-file-content-never-shown"


def fleet_tree(tmp_path: Path) -> Path:
    root = tmp_path / "fleet"
    git_repo(root, MINIMAL)
    return root


@pytest.mark.parametrize("where", ["overlays/base/leak.yaml", "overlays/dev/leak.yaml", "clusters/leak.yaml"])
def test_a_symlinked_file_leading_out_is_refused_in_the_working_tree(tmp_path: Path, where: str) -> None:
    root = fleet_tree(tmp_path)
    outside = tmp_path / "host-secret"
    outside.write_text(f"data: {HOST_SECRET}\n")
    (root / where).symlink_to(outside)
    with pytest.raises(ContentError, match=rf"{where}: a symbolic link"):
        working_tree(root)
    result = CliRunner().invoke(cli, ["render", "--repo", str(root), "--local"], catch_exceptions=False)
    assert result.exit_code != 0 and HOST_SECRET not in result.output
    assert "symbolic link" in result.output and "Traceback" not in result.output


def test_a_symlinked_directory_is_refused(tmp_path: Path) -> None:
    root = fleet_tree(tmp_path)
    (tmp_path / "elsewhere").mkdir()
    (root / "overlays" / "staging").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ContentError, match=r"overlays/staging: a symbolic link"):
        working_tree(root)


def test_special_files_are_refused(tmp_path: Path) -> None:
    root = fleet_tree(tmp_path)
    os.mkfifo(root / "overlays" / "base" / "pipe.yaml")
    with pytest.raises(ContentError, match=r"overlays/base/pipe.yaml: not a regular file"):
        working_tree(root)  # and returns at once: a FIFO is never opened for a blocking read


def test_a_symlink_committed_to_git_is_refused(tmp_path: Path) -> None:
    root = fleet_tree(tmp_path)
    (root / "overlays" / "base" / "leak.yaml").symlink_to("/etc/passwd")
    repo = Repository(root)
    repo.repo.index.add(["overlays/base/leak.yaml"])
    repo.repo.index.commit("link")
    with pytest.raises(ContentError, match=r"overlays/base/leak.yaml: a symbolic link at [0-9a-f]{12}"):
        Repository(root).snapshot("HEAD")


def test_the_whole_fleet_is_bounded_in_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fleet.repo import source as source_module

    root = fleet_tree(tmp_path)
    monkeypatch.setattr(source_module, "MAX_TOTAL_BYTES", 100)
    with pytest.raises(ContentError, match=r"over .* files or 100 bytes"):
        working_tree(root)
    with pytest.raises(ContentError, match=r"over .* files or 100 bytes"):
        Repository(root).snapshot("HEAD")


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("https://bot:p@ss@w0rd@git.example.com/fleet.git", "p@ss@w0rd"),
        ("https://x-access-token:ghs_abc@github.example/org/fleet", "ghs_abc"),
        ("fatal: unable to access 'https://u:a@b@c@host/r.git/': 403", "a@b@c"),
    ],
)
def test_credentials_in_repository_urls_are_redacted_whole(text: str, secret: str) -> None:
    assert secret not in redact(text)
    assert "***@" in redact(text)
