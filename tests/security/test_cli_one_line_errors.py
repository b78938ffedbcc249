"""The CLI answers hostile repositories with a one-line error and an exit code, never a traceback or an
internal error, in every output format (clusters here have no kubeconfig: they are reported, not probed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from fleet.cli import cli
from tests.support.fleetfiles import git_repo
from tests.support.fuzzing import case

SEED = 424242
COMMANDS = [
    ["render", "-o", "json"],
    ["render", "-o", "yaml"],
    ["clusters", "-o", "json"],
    ["plan", "-o", "json"],
    ["status", "-o", "json"],
]


@pytest.mark.parametrize("number", range(40))
def test_hostile_repositories_get_one_line_errors(tmp_path: Path, number: int) -> None:
    c = case(SEED, number)
    root = tmp_path / "repo"
    repo = git_repo(root, {})
    for path, content in c.files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(content)
    repo.index.add(list(c.files))
    repo.index.commit("hostile")
    env = {"FLEET_CREDENTIALS_DIR": str(tmp_path / "credentials"), "FLEET_CONFIG": str(tmp_path / "none.yaml")}
    (tmp_path / "none.yaml").write_text("renderTimeout: 2\nrenderMemoryMB: 384\n")
    for command in COMMANDS:
        result = CliRunner().invoke(cli, [*command, "--repo", str(root)], env=env, catch_exceptions=False)
        assert result.exit_code in (0, 1, 2, 3), (command, result.output)
        assert "Traceback" not in result.output and "internal error" not in result.output, (command, result.output)
        if result.exit_code == 2:
            errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
            assert len(errors) == 1, (command, result.stderr)
