"""A cluster's client reads the proxy variables once, when it is built, and never ~/.netrc: aiohttp would
otherwise look both up in a worker thread for every request (and send .netrc credentials)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet.kube.client import cluster_client
from fleet.kube.kubeconfig import ResolvedKubeconfig


def resolved(server: str) -> ResolvedKubeconfig:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server, "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "c",
    }
    return ResolvedKubeconfig(cluster="c", context="c", server=server, config=config)


@pytest.mark.parametrize(
    ("no_proxy", "expected"),
    [("", "http://proxy.example:3128"), ("10.1.2.3", None)],
)
async def test_the_proxy_of_the_environment_is_looked_up_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, no_proxy: str, expected: str | None
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", no_proxy)
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".netrc").write_text("machine 10.1.2.3 login leak password leak\n")
    api = await cluster_client(resolved("https://10.1.2.3:6443"))
    try:
        assert api.rest_client.proxy == expected
        assert api.rest_client.pool_manager.trust_env is False
    finally:
        await api.close()
