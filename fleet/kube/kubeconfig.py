"""Reading a cluster's kubeconfig safely.

A kubeconfig named by clusters/ in Git is only trusted as far as the hub's own config allows: a user entry
with an ``exec`` or ``auth-provider`` plugin would let a pull request run commands on the hub, so it is
refused unless ``allowCredentialPlugins`` is set there. Messages name files and fields, never secrets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from fleet.config import FleetConfig
from fleet.errors import RegistryError
from fleet.registry import Cluster


@dataclass(frozen=True)
class ResolvedKubeconfig:
    cluster: str
    context: str
    server: str
    config: dict[str, Any]  # the whole parsed file: holds credentials, never print it


def _named(items: Any, name: str) -> dict[str, Any] | None:
    for item in items or []:
        if isinstance(item, dict) and item.get("name") == name:
            value = next((v for k, v in item.items() if k != "name"), None)
            return value if isinstance(value, dict) else {}
    return None


def load_kubeconfig(cluster: Cluster, config: FleetConfig) -> ResolvedKubeconfig:
    path = cluster.kubeconfig

    def err(message: str) -> RegistryError:
        return RegistryError(message, path=str(path), cluster=cluster.name)

    try:
        text = path.read_text()
    except FileNotFoundError:
        raise err("kubeconfig not found") from None
    except OSError as exc:
        raise err(f"kubeconfig not readable ({exc.strerror})") from None
    try:
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # C: kubeconfigs are big
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise err(f"kubeconfig is not valid YAML{where}") from None
    if not isinstance(data, dict):
        raise err("kubeconfig is not a mapping")
    context_name = cluster.context or data.get("current-context")
    if not context_name:
        raise err("no context: set `context` in the cluster entry or current-context in the kubeconfig")
    context = _named(data.get("contexts"), context_name)
    if context is None:
        raise err(f"context {context_name!r} not found in the kubeconfig")
    cluster_entry = _named(data.get("clusters"), str(context.get("cluster", "")))
    if cluster_entry is None or not cluster_entry.get("server"):
        raise err(f"context {context_name!r} names cluster {context.get('cluster')!r}, which has no server")
    user = _named(data.get("users"), str(context.get("user", ""))) or {}
    plugins = [k for k in ("exec", "auth-provider") if user.get(k)]
    if plugins and not config.allow_credential_plugins:
        raise err(
            f"user {context.get('user')!r} uses a credential plugin ({plugins[0]}); refused because it would run "
            "a command on the hub. Allow it with `allowCredentialPlugins: true` in the hub config "
            "(not in the Git repository)"
        )
    return ResolvedKubeconfig(cluster.name, context_name, str(cluster_entry["server"]), data)
