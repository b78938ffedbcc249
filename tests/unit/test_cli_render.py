from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from fleet.cli import cli
from tests.support.fleetfiles import MINIMAL, git_repo

ROOT = Path(__file__).resolve().parents[2]


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_render_from_git_revision(tmp_path: Path) -> None:
    repo = git_repo(tmp_path, MINIMAL)
    code, out, _ = invoke("render", "--repo", str(tmp_path), "--ref", "main", "-c", "dev-1")
    assert code == 0
    assert f"fleet.dev/source-revision: {repo.head.commit.hexsha}" in out


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"overlays/base/bad.yaml": "x: {{ values.missing }}\n"}, "overlays/base/bad.yaml:1 (cluster dev-1)"),
        ({"clusters/dev-1.yaml": "env: dev\n"}, "clusters/dev-1.yaml, field 'kubeconfig'"),
        ({"overlays/dev/values.yaml": "replicas: [\n"}, "overlays/dev/values.yaml:2"),
    ],
)
def test_bad_input_exits_2_with_location_and_prints_nothing_else(
    tmp_path: Path, files: dict[str, str], message: str
) -> None:
    git_repo(tmp_path, {**MINIMAL, **files})
    code, out, err = invoke("render", "--repo", str(tmp_path))
    assert code == 2
    assert out == ""
    assert err.startswith("error: ") and message in err
    assert "Traceback" not in err


def test_unknown_cluster_and_bad_arguments(tmp_path: Path) -> None:
    git_repo(tmp_path, MINIMAL)
    code, _, err = invoke("render", "--repo", str(tmp_path), "-c", "nope")
    assert code == 2 and "known clusters: dev-1" in err
    code, _, err = invoke("render", "--repo", str(tmp_path), "--ref", "no-such-branch")
    assert code == 1 and "unknown revision 'no-such-branch'" in err
    code, _, err = invoke("render", "--repo", str(tmp_path / "absent"))
    assert code != 0 and "Traceback" not in err
    code, _, err = invoke("render", "--repo", str(tmp_path), "--local", "--ref", "main")
    assert code == 2


def test_lab_kind_backend_without_kind_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # neither kind nor docker
    code, _, err = invoke("lab", "up", "--backend", "kind", "--dir", str(tmp_path / "lab"))
    assert code != 0 and "needs the `kind` command" in err and "Traceback" not in err
