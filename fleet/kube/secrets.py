"""Cluster credentials kept as Secrets in the management cluster, in the hub's own namespace.

A cluster entry in Git may name a Secret instead of a file (``kubeconfigSecret: prod-eu-1``). The name is
untrusted like a file path, so the same confinement applies in Kubernetes terms: only Secrets of the hub's
namespace, and only those the operator marked as cluster credentials (label ``fleet.dev/credentials:
kubeconfig``), are ever read; any other Secret (the hub's webhook secret, a token) is refused by name,
without its content. What is read is vetted by exactly the rules of a kubeconfig file, and since it has no
directory of its own it may name no file.
"""

from __future__ import annotations

import base64
import binascii

from fleet.config import FleetConfig
from fleet.errors import RegistryError
from fleet.kube.api import ApiError, ClusterApi
from fleet.kube.kubeconfig import ResolvedKubeconfig, parse_kubeconfig, vetting_error
from fleet.model.cluster import Cluster
from fleet.repo.registry import SECRET_NAME

CREDENTIALS_LABEL = "fleet.dev/credentials"
CREDENTIALS_VALUE = "kubeconfig"
KUBECONFIG_KEY = "kubeconfig"


class CredentialSource:
    """Reads cluster kubeconfigs from Secrets of one namespace."""

    def __init__(self, api: ClusterApi, namespace: str, config: FleetConfig) -> None:
        self.api = api
        self.namespace = namespace
        self.config = config

    async def kubeconfig(self, cluster: Cluster) -> ResolvedKubeconfig:
        name = cluster.kubeconfig_secret

        def refused(message: str) -> RegistryError:
            return vetting_error(cluster, self.config, message)

        if not SECRET_NAME.match(name):
            raise refused("not a Secret name (a lowercase DNS subdomain)")
        try:
            secret = await self.api.get(f"/api/v1/namespaces/{self.namespace}/secrets/{name}")
        except ApiError as exc:
            if exc.status == 404:
                raise refused(f"not found in the hub's namespace {self.namespace!r}") from None
            if exc.status == 403:
                raise refused(f"the hub may not read it ({exc.reason})") from None
            raise refused(f"could not be read ({exc.status} {exc.reason})") from None
        labels = (secret.get("metadata") or {}).get("labels") or {}
        if labels.get(CREDENTIALS_LABEL) != CREDENTIALS_VALUE:
            raise refused(
                f"is not marked as cluster credentials (label {CREDENTIALS_LABEL}={CREDENTIALS_VALUE}); refused"
            )
        encoded = (secret.get("data") or {}).get(KUBECONFIG_KEY)
        if not isinstance(encoded, str):
            raise refused(f"has no {KUBECONFIG_KEY!r} key")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise refused(f"key {KUBECONFIG_KEY!r} is not valid base64") from None
        return parse_kubeconfig(cluster, self.config, raw)
