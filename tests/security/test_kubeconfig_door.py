"""A kubeconfig named from Git can neither run a command, read a file outside the hub's credentials
directory, nor expand the hub's environment; what the client uses is exactly what was vetted."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from fleet.config import FleetConfig
from fleet.errors import RegistryError
from fleet.kube.client import cluster_client
from fleet.kube.kubeconfig import load_kubeconfig
from fleet.repo.registry import parse_cluster

TOKEN = "s3cr3t-t0ken-value"
MARKER_NAME = "plugin-ran"


def kubeconfig_doc(user_item: dict[str, Any], **cluster: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1", **cluster}}],
        "users": [user_item],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "ctx",
    }


@pytest.fixture
def creds(tmp_path: Path) -> Path:
    directory = tmp_path / "credentials"
    directory.mkdir()
    return directory


def entry(creds: Path, kubeconfig: str, *, allow: bool = False) -> tuple[Any, FleetConfig]:
    config = FleetConfig(creds, allow_credential_plugins=allow)
    text = f"env: dev\nkubeconfig: {kubeconfig!r}\ncontext: ctx\n"
    return parse_cluster("clusters/dev-1.yaml", text, config, ["dev"]), config


def write(path: Path, doc: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def exec_user(marker: Path) -> dict[str, Any]:
    return {"command": "touch", "args": [str(marker)], "apiVersion": "client.authentication.k8s.io/v1"}


@pytest.mark.parametrize(
    "user_item",
    [
        # the plugin behind a decoy key: an earlier vetting read the first non-name key
        {"name": "u", "aaa": {"token": "x"}, "user": {"exec": "EXEC"}},
        {"name": "u", "user": {"token": "x", "exec": "EXEC"}},
        {"name": "u", "user": {"exec": "EXEC", "token": "x"}},
        {"name": "u", "user": {"auth-provider": {"name": "oidc", "config": {}}}},
        {"name": "u", "user": {"auth-provider": {"config": {"cmd-path": "touch"}}}},
    ],
)
async def test_credential_plugins_are_refused_however_the_entry_is_laid_out(
    creds: Path, tmp_path: Path, user_item: dict[str, Any]
) -> None:
    marker = tmp_path / MARKER_NAME
    item = yaml.safe_load(yaml.safe_dump(user_item).replace("EXEC", "null"))
    if "exec" in item.get("user", {}):
        item["user"]["exec"] = exec_user(marker)
    write(creds / "k", kubeconfig_doc(item))
    cluster, config = entry(creds, "k")
    with pytest.raises(RegistryError, match=r"credential plugin") as info:
        load_kubeconfig(cluster, config)
    assert "clusters/dev-1.yaml" in str(info.value) and "dev-1" in str(info.value)
    assert not marker.exists()


async def test_duplicate_user_entries_are_refused(creds: Path) -> None:
    doc = kubeconfig_doc({"name": "u", "user": {"token": "x"}})
    doc["users"].append({"name": "u", "user": {"exec": {"command": "touch"}}})
    write(creds / "k", doc)
    cluster, config = entry(creds, "k")
    with pytest.raises(RegistryError, match=r"user 'u' is defined 2 times"):
        load_kubeconfig(cluster, config)


async def test_unknown_user_fields_are_refused_not_ignored(creds: Path) -> None:
    write(creds / "k", kubeconfig_doc({"name": "u", "user": {"token": "x", "as-user-extra": {"a": ["b"]}}}))
    cluster, config = entry(creds, "k")
    with pytest.raises(RegistryError, match=r"unsupported field 'as-user-extra'"):
        load_kubeconfig(cluster, config)


async def test_the_client_is_built_from_the_vetted_structure(creds: Path) -> None:
    (creds / "token").write_text(TOKEN + "\n")
    write(
        creds / "k", kubeconfig_doc({"name": "u", "user": {"tokenFile": "token"}}, **{"insecure-skip-tls-verify": True})
    )
    cluster, config = entry(creds, "k")
    vetted = load_kubeconfig(cluster, config)
    assert vetted.config["users"] == [{"name": "user", "user": {"token": TOKEN}}]
    assert "tokenFile" not in repr(vetted.config)
    api = await cluster_client(vetted)
    try:
        assert api.configuration.api_key["BearerToken"] == f"Bearer {TOKEN}"
        assert api.configuration.host == "https://127.0.0.1:1"
    finally:
        await api.close()


@pytest.mark.parametrize(
    "written",
    ["../outside.kubeconfig", "{outside}", "/proc/self/environ", "/etc/passwd", "sub/../../outside.kubeconfig"],
)
async def test_the_kubeconfig_must_be_inside_the_credentials_dir(creds: Path, written: str) -> None:
    outside = creds.parent / "outside.kubeconfig"
    write(outside, kubeconfig_doc({"name": "u", "user": {"token": TOKEN}}))
    cluster, config = entry(creds, written.format(outside=outside))
    with pytest.raises(RegistryError, match=r"outside the hub's credentials directory") as info:
        load_kubeconfig(cluster, config)
    assert TOKEN not in str(info.value) and str(creds) not in str(info.value)


async def test_a_symlink_inside_the_credentials_dir_cannot_lead_out(creds: Path) -> None:
    outside = creds.parent / "outside.kubeconfig"
    write(outside, kubeconfig_doc({"name": "u", "user": {"token": TOKEN}}))
    (creds / "link").symlink_to(outside)
    cluster, config = entry(creds, "link")
    with pytest.raises(RegistryError, match=r"outside the hub's credentials directory"):
        load_kubeconfig(cluster, config)
    # a link that stays inside is fine
    (creds / "real").write_text(outside.read_text())
    (creds / "inner").symlink_to(creds / "real")
    cluster, config = entry(creds, "inner")
    assert load_kubeconfig(cluster, config).server == "https://127.0.0.1:1"


async def test_special_files_are_not_read(creds: Path) -> None:
    os.mkfifo(creds / "fifo")
    cluster, config = entry(creds, "fifo")
    with pytest.raises(RegistryError, match=r"not a regular file"):
        load_kubeconfig(cluster, config)


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ("user", "tokenFile"),
        ("user", "client-key"),
        ("user", "client-certificate"),
        ("cluster", "certificate-authority"),
    ],
)
@pytest.mark.parametrize("target", ["{secret}", "../secret", "/proc/self/environ"])
async def test_files_named_in_the_kubeconfig_are_confined(creds: Path, section: str, key: str, target: str) -> None:
    secret = creds.parent / "secret"
    secret.write_text("hub-private-key-material")
    user: dict[str, Any] = {"token": "x"} if section == "cluster" else {}
    cluster_extra: dict[str, Any] = {}
    (user if section == "user" else cluster_extra)[key] = target.format(secret=secret)
    write(creds / "k", kubeconfig_doc({"name": "u", "user": user}, **cluster_extra))
    cluster, config = entry(creds, "k")
    with pytest.raises(RegistryError, match=rf"{key} is outside the hub's credentials directory") as info:
        load_kubeconfig(cluster, config)
    assert "hub-private-key-material" not in str(info.value)


@pytest.mark.parametrize("written", ["$HOME/k", "${FLEET_TEST_SECRET}/k", "~/k", "~root/k"])
async def test_nothing_from_git_is_expanded(creds: Path, monkeypatch: pytest.MonkeyPatch, written: str) -> None:
    monkeypatch.setenv("FLEET_TEST_SECRET", "environment-secret-value")
    monkeypatch.setenv("HOME", str(creds))
    write(creds / "k", kubeconfig_doc({"name": "u", "user": {"token": TOKEN}}))
    cluster, config = entry(creds, written)
    assert cluster.kubeconfig == creds / written
    with pytest.raises(RegistryError, match="not found") as info:
        load_kubeconfig(cluster, config)
    assert "environment-secret-value" not in str(info.value)
    assert f"kubeconfig {written!r}" in str(info.value)


async def test_plugins_pass_only_when_the_hub_config_allows_them(creds: Path, tmp_path: Path) -> None:
    write(creds / "k", kubeconfig_doc({"name": "u", "user": {"exec": exec_user(tmp_path / MARKER_NAME)}}))
    cluster, config = entry(creds, "k", allow=True)
    assert "exec" in load_kubeconfig(cluster, config).config["users"][0]["user"]
