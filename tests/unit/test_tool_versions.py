"""A user's own helm or kubectl (helmPath, kubectlPath in the hub config) is checked once: a version fleet
does not render with is a clear error naming the config field, never a surprise in a render."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet.config import FleetConfig
from fleet.errors import InputError
from fleet.workflows.workspace import render_tools


def fake(tmp_path: Path, name: str, output: str) -> Path:
    script = tmp_path / name
    script.write_text(f"#!/bin/sh\ncat <<'EOF'\n{output}\nEOF\n")
    script.chmod(0o755)
    return script


def test_supported_versions_are_used(tmp_path: Path) -> None:
    helm = fake(tmp_path, "helm", "v3.19.5+g1234567")
    kubectl = fake(tmp_path, "kubectl", "Client Version: v1.33.1\nKustomize Version: v5.6.0")
    tools = render_tools(FleetConfig(tmp_path, helm_path=helm, kubectl_path=kubectl))
    assert (tools.helm, tools.kubectl) == (str(helm), str(kubectl))


@pytest.mark.parametrize(
    ("name", "output", "field", "message"),
    [
        ("helm", "v2.17.0+ga690bad", "helmPath", "reports helm v2.17.0; fleet renders with v3.x"),
        ("kubectl", "Client Version: v1.20.0\nKustomize Version: v4.5.7", "kubectlPath", "reports kustomize v4.5.7"),
        ("kubectl", "nothing useful", "kubectlPath", "reports kustomize no version"),
    ],
)
def test_unsupported_versions_name_the_config_field(
    tmp_path: Path, name: str, output: str, field: str, message: str
) -> None:
    binary = fake(tmp_path, name, output)
    config = FleetConfig(tmp_path, **{"helm_path" if name == "helm" else "kubectl_path": binary})
    with pytest.raises(InputError) as info:
        render_tools(config)
    assert info.value.field == field and message in str(info.value)


def test_a_missing_binary_names_the_config_field(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot be run") as info:
        render_tools(FleetConfig(tmp_path, helm_path=tmp_path / "no-such-helm"))
    assert info.value.field == "helmPath"
