"""kubernetes_asyncio clients for a cluster, built from an already-vetted kubeconfig."""

from __future__ import annotations

import asyncio
import asyncio.sslproto
import functools
import os
from pathlib import Path

from aiohttp.helpers import get_env_proxy_for_url
from kubernetes_asyncio import client, config
from yarl import URL

from fleet.config import FleetConfig
from fleet.errors import UsageError
from fleet.kube.api import ApiLimits, ClusterApi, Fence
from fleet.kube.kubeconfig import ResolvedKubeconfig, load_kubeconfig
from fleet.kube.secrets import CredentialSource
from fleet.model.cluster import Cluster

SSL_READ_BUFFER = 32 * 1024


def _smaller_tls_read_buffers() -> None:
    """asyncio gives every TLS connection a 256 KiB read buffer (``SSLProtocol.max_size``). The hub keeps
    a pool of connections and a watch per kind open to every cluster, so those buffers were most of its
    memory per cluster (about 2 MiB of the 4.4 MiB bench/scale.py measured at 50 clusters). A TLS record
    is at most 16 KiB, so 32 KiB reads cost only a few more loop iterations on a large LIST."""
    protocol = asyncio.sslproto.SSLProtocol
    if getattr(protocol, "max_size", 0) > SSL_READ_BUFFER:
        protocol.max_size = SSL_READ_BUFFER


_smaller_tls_read_buffers()


async def api_client(kubeconfig: Path, context: str | None = None) -> client.ApiClient:
    """A fresh ApiClient from a kubeconfig file; the caller closes it."""
    return await config.new_client_from_config(config_file=str(kubeconfig), context=context)


async def cluster_client(resolved: ResolvedKubeconfig) -> client.ApiClient:
    """A fresh ApiClient from a kubeconfig that :func:`load_kubeconfig` accepted: built from the vetted
    structure (one context, credentials inline), never from the file."""
    configuration = client.Configuration()
    loader = config.kube_config.KubeConfigLoader(config_dict=resolved.config, active_context=resolved.context)
    await loader.load_and_set(configuration)
    api = client.ApiClient(configuration=configuration)
    _environment_once(api)
    return api


def _environment_once(api: client.ApiClient) -> None:
    """kubernetes_asyncio's HTTP session trusts the environment, so aiohttp reads ~/.netrc and the proxy
    variables in a worker thread twice for every request: a thread hand-off per request, and .netrc
    credentials sent to an apiserver authenticated by client certificate. The proxy (HTTPS_PROXY,
    NO_PROXY) is looked up once here and kept; .netrc is never read (the kubeconfig holds the
    credentials)."""
    rest = api.rest_client
    if not rest.proxy:
        found = _environment_proxy(str(api.configuration.host), _proxy_environment())
        if found is not None:
            rest.proxy, authorization = found
            if authorization is not None:
                rest.proxy_headers = {"Proxy-Authorization": authorization}
    rest.pool_manager._trust_env = False


# What urllib's and aiohttp's proxy lookup read (they walk the whole environment to find them).
_PROXY_BASES = ("http_proxy", "https_proxy", "ws_proxy", "wss_proxy", "all_proxy", "no_proxy")
_PROXY_VARIABLES = (*_PROXY_BASES, *(b.upper() for b in _PROXY_BASES), "REQUEST_METHOD", "NETRC", "HOME")


def _proxy_environment() -> tuple[str | None, ...]:
    return tuple(os.environ.get(name) for name in _PROXY_VARIABLES)


@functools.lru_cache(maxsize=256)
def _environment_proxy(server: str, _environment: tuple[str | None, ...]) -> tuple[str, str | None] | None:
    """The proxy (and its Proxy-Authorization) for ``server`` from the environment, or None. Looked up
    once per server and environment: the lookup walks every variable of the environment, about a third
    of the client CPU of setting up a cluster's client (bench/sync.py at 30 clusters)."""
    try:
        proxy, auth = get_env_proxy_for_url(URL(server))
    except LookupError:
        return None
    return str(proxy), auth.encode() if auth is not None else None


async def server_version(resolved: ResolvedKubeconfig, *, timeout: float = 5.0) -> str:
    """The cluster's gitVersion; raises on any failure (the caller reports it)."""
    api = await cluster_client(resolved)
    try:
        info = await asyncio.wait_for(client.VersionApi(api).get_code(), timeout)
        return str(info.git_version)
    finally:
        await api.close()


async def open_cluster(
    cluster: Cluster,
    config: FleetConfig,
    limits: ApiLimits | None = None,
    *,
    fence: Fence | None = None,
    user_agent: str | None = None,
    credentials: CredentialSource | None = None,
) -> ClusterApi:
    """The cluster's API through its vetted kubeconfig (a file of the credentials directory, or a Secret
    of the management cluster); the caller closes it. With ``fence``, writes are sent only while it holds."""
    if cluster.kubeconfig_secret and credentials is not None:
        resolved = await credentials.kubeconfig(cluster)
    else:
        resolved = load_kubeconfig(cluster, config)
    api = await cluster_client(resolved)
    return ClusterApi(cluster.name, api, limits or ApiLimits(), fence=fence, user_agent=user_agent)


IN_CLUSTER_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


async def open_management(kubeconfig: Path | None, context: str | None = None, *, user_agent: str) -> ClusterApi:
    """The management cluster the hub's replicas coordinate through: the operator's kubeconfig (trusted:
    it comes from the hub's command line, never from Git), or the pod's ServiceAccount when ``None``."""
    if kubeconfig is not None:
        api = await api_client(kubeconfig, context)
    else:
        configuration = client.Configuration()
        try:
            config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        except config.ConfigException as exc:
            raise UsageError(
                f"not running in a Kubernetes pod ({exc}); pass --management-kubeconfig to run the hub elsewhere"
            ) from None
        api = client.ApiClient(configuration=configuration)
    _environment_once(api)
    # Short timeouts: a Lease renewal that takes longer than the renewal period is as good as lost.
    return ClusterApi("management", api, ApiLimits(timeout=5.0), user_agent=user_agent)


def in_cluster_namespace() -> str | None:
    """The pod's namespace when running in a cluster."""
    try:
        return IN_CLUSTER_NAMESPACE.read_text().strip() or None
    except OSError:
        return None
