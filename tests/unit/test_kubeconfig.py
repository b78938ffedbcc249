from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fleet.config import FleetConfig
from fleet.errors import RegistryError
from fleet.kube.kubeconfig import load_kubeconfig
from fleet.model.cluster import Cluster

SECRET = "c2VjcmV0LXRva2VuLXZhbHVl"


def kubeconfig(path: Path, user: dict[str, object]) -> Cluster:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": user}],
                "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
            }
        )
    )
    return Cluster(name="dev-1", env="dev", labels={}, kubeconfig=path, context="ctx")


def test_exec_plugin_is_refused_unless_the_hub_config_allows_it(tmp_path: Path) -> None:
    cluster = kubeconfig(tmp_path / "k", {"exec": {"command": "touch", "args": ["/tmp/pwned"]}, "token": SECRET})
    with pytest.raises(RegistryError, match=r"cluster dev-1.*credential plugin \(exec\)") as info:
        load_kubeconfig(cluster, FleetConfig(tmp_path))
    assert SECRET not in str(info.value)
    assert load_kubeconfig(cluster, FleetConfig(tmp_path, allow_credential_plugins=True)).context == "ctx"


def test_auth_provider_is_refused(tmp_path: Path) -> None:
    cluster = kubeconfig(tmp_path / "k", {"auth-provider": {"name": "oidc"}})
    with pytest.raises(RegistryError, match="auth-provider"):
        load_kubeconfig(cluster, FleetConfig(tmp_path))


def test_missing_context_and_file_are_clear_and_secret_free(tmp_path: Path) -> None:
    cluster = kubeconfig(tmp_path / "k", {"token": SECRET})
    wrong = Cluster(name="dev-1", env="dev", labels={}, kubeconfig=cluster.kubeconfig, context="other")
    with pytest.raises(RegistryError, match="context 'other' not found") as info:
        load_kubeconfig(wrong, FleetConfig(tmp_path))
    assert SECRET not in str(info.value)
    absent = Cluster(name="dev-1", env="dev", labels={}, kubeconfig=tmp_path / "absent", context=None)
    with pytest.raises(RegistryError, match="kubeconfig not found"):
        load_kubeconfig(absent, FleetConfig(tmp_path))


def test_repository_urls_are_redacted() -> None:
    from fleet.repo.source import redact

    text = "fatal: unable to access 'https://bot:ghp_SECRET123@git.example.com/fleet.git/': 403"
    assert redact(text) == "fatal: unable to access 'https://***@git.example.com/fleet.git/': 403"
    assert redact("/srv/git/fleet.git") == "/srv/git/fleet.git"
