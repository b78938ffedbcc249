"""The hub's own configuration: a file on the hub's machine, never in the fleet's Git repository.

Whatever a pull request can change must not widen what the hub trusts, so the credentials directory
and the permission to run kubeconfig credential plugins live here.

    # ~/.config/fleet/config.yaml (or --config / $FLEET_CONFIG)
    credentialsDir: ~/fleet-credentials     # relative kubeconfig paths in clusters/ resolve here
    allowCredentialPlugins: false           # kubeconfigs with exec/auth-provider users
    inventoryName: fleet-inventory          # the ConfigMap in fleet-system recording what this hub applied;
                                            # two hubs managing one cluster need different names
    renderTimeout: 10                       # seconds one cluster's render may take (templates come from Git)
    renderMemoryMB: 1024                    # address space of a render worker process
    helmPath: /usr/local/bin/helm           # Helm for chart sources (default: the one `fleet lab build` built)
    kubectlPath: /usr/local/bin/kubectl     # kubectl for Kustomize sources (`kubectl kustomize`; same default)
    chartRepositories:                      # HTTP chart repositories sources.yaml may fetch from (none by default)
      - https://charts.example.com
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from fleet.errors import InputError
from fleet.paths import default_credentials_dir
from fleet.yamlio import load_one

KNOWN_KEYS = {
    "credentialsDir",
    "allowCredentialPlugins",
    "inventoryName",
    "renderTimeout",
    "renderMemoryMB",
    "helmPath",
    "kubectlPath",
    "chartRepositories",
}
DEFAULT_INVENTORY = "fleet-inventory"


def default_config_path() -> Path:
    explicit = os.environ.get("FLEET_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CONFIG_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".config") / "fleet" / "config.yaml"


@dataclass(frozen=True)
class FleetConfig:
    credentials_dir: Path
    allow_credential_plugins: bool = False
    inventory: str = DEFAULT_INVENTORY
    render_timeout: float = 10.0
    render_memory_mb: int = 1024
    helm_path: Path | None = None  # None: the pinned helm of the tools cache
    kubectl_path: Path | None = None
    chart_repositories: tuple[str, ...] = ()

    @classmethod
    def default(cls) -> FleetConfig:
        return cls(default_credentials_dir())

    @classmethod
    def load(cls, path: Path | None = None) -> FleetConfig:
        explicit = path is not None or "FLEET_CONFIG" in os.environ
        path = path or default_config_path()
        if not path.exists():
            if explicit:
                raise InputError("hub config file not found", path=str(path))
            return cls.default()
        data = load_one(path.read_text(), str(path)) or {}
        if not isinstance(data, dict):
            raise InputError("hub config must be a mapping", path=str(path))
        unknown = sorted(set(data) - KNOWN_KEYS)
        if unknown:
            raise InputError(
                f"unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(KNOWN_KEYS))}", path=str(path)
            )
        allow = data.get("allowCredentialPlugins", False)
        if not isinstance(allow, bool):
            raise InputError("must be true or false", path=str(path), field="allowCredentialPlugins")
        creds = data.get("credentialsDir")
        if creds is not None and not isinstance(creds, str):
            raise InputError("must be a path", path=str(path), field="credentialsDir")
        credentials_dir = Path(os.path.expandvars(creds)).expanduser() if creds else default_credentials_dir()
        inventory = data.get("inventoryName", DEFAULT_INVENTORY)
        if not isinstance(inventory, str) or not re.match(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$", inventory):
            raise InputError(
                "must be a ConfigMap name (lowercase DNS subdomain)", path=str(path), field="inventoryName"
            )
        timeout = data.get("renderTimeout", 10.0)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0.1 <= timeout <= 3600:
            raise InputError("must be a number of seconds from 0.1 to 3600", path=str(path), field="renderTimeout")
        memory = data.get("renderMemoryMB", 1024)
        if isinstance(memory, bool) or not isinstance(memory, int) or not 128 <= memory <= 1024 * 1024:
            raise InputError("must be a whole number of MiB, at least 128", path=str(path), field="renderMemoryMB")
        tools = {}
        for key in ("helmPath", "kubectlPath"):
            value = data.get(key)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise InputError("must be the path of an executable", path=str(path), field=key)
            tools[key] = Path(value).expanduser() if value else None
        repositories = data.get("chartRepositories") or []
        if not isinstance(repositories, list) or not all(
            isinstance(r, str) and r.startswith(("http://", "https://")) for r in repositories
        ):
            raise InputError("must be a list of http(s) URLs", path=str(path), field="chartRepositories")
        return cls(
            credentials_dir,
            allow,
            inventory,
            float(timeout),
            memory,
            tools["helmPath"],
            tools["kubectlPath"],
            tuple(r.rstrip("/") for r in repositories),
        )
