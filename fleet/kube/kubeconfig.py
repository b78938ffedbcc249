"""Reading a cluster's kubeconfig safely: one parse, one vetting, and the client built from exactly what
was vetted.

A cluster entry in Git names its kubeconfig, so the name is untrusted. The rules:

- The path is never expanded (no ``~``, no ``$VAR``); a relative path resolves in the hub's credentials
  directory, and the file, after every symlink is resolved, must lie inside that directory and be a
  regular file of bounded size.
- Every file the kubeconfig names (``certificate-authority``, ``client-certificate``, ``client-key``,
  ``tokenFile``) obeys the same rule and is read here, once, into the vetted structure as data.
- Only the one context the cluster uses is kept, and from its cluster and user entries only the keys fleet
  understands are copied. ``exec`` and ``auth-provider`` are refused (unless the hub's own config allows
  credential plugins): they would let a pull request run a command or send the credentials elsewhere.
  Keys fleet does not know are refused rather than ignored, so nothing the client reads escaped vetting.
- The client is built from the vetted structure, never from the file, so the vetting and the client can
  never read a user entry differently.

Messages name the cluster entry, the field and the kubeconfig as written in Git; never a credential, a
resolved path outside the credentials directory, or anything from the hub's environment.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from fleet.config import FleetConfig
from fleet.errors import RegistryError
from fleet.model.cluster import Cluster
from fleet.yamlio import MAX_DEPTH, TooDeep, check_depth

MAX_KUBECONFIG_BYTES = 1024 * 1024
MAX_CREDENTIAL_FILE_BYTES = 256 * 1024

# cluster entry key -> how it is carried into the vetted structure
_CLUSTER_FILES = {"certificate-authority": "certificate-authority-data"}
_CLUSTER_KEYS = {"server", "certificate-authority-data", "insecure-skip-tls-verify", "tls-server-name"}
_USER_FILES = {"client-certificate": "client-certificate-data", "client-key": "client-key-data"}
_USER_KEYS = {"client-certificate-data", "client-key-data", "token", "username", "password"}
_PLUGINS = ("exec", "auth-provider")
_IGNORED = {"extensions"}  # informational in client-go; never read by the client


@dataclass(frozen=True)
class ResolvedKubeconfig:
    """The one context a cluster uses, vetted. ``config`` is a complete kubeconfig with one cluster, one
    user and one context, every credential inline: it holds secrets, never print it."""

    cluster: str
    context: str
    server: str
    config: dict[str, Any]


class _Vetting:
    def __init__(self, cluster: Cluster, config: FleetConfig) -> None:
        self.cluster = cluster
        self.config = config
        self.from_secret = bool(cluster.kubeconfig_secret)
        if self.from_secret:
            self.written, self.field = f"Secret {cluster.kubeconfig_secret}", "kubeconfigSecret"
        else:
            self.written, self.field = f"kubeconfig {cluster.kubeconfig_ref or str(cluster.kubeconfig)!r}", "kubeconfig"
        self.root = Path(os.path.realpath(config.credentials_dir))

    def err(self, message: str) -> RegistryError:
        return RegistryError(
            f"{self.written}: {message}",
            path=self.cluster.source or None,
            field=self.field,
            cluster=self.cluster.name,
        )

    def read_confined(self, path: Path, what: str, limit: int) -> bytes:
        """The bytes of ``path`` if, after symlinks, it is a regular file inside the credentials directory."""
        if self.from_secret:
            # A kubeconfig kept in a Secret has no directory of its own: reading a file it names would
            # reach into the hub's file system.
            raise self.err(f"{what} names a file; a kubeconfig in a Secret must embed its credentials (*-data)")
        real = Path(os.path.realpath(path))
        if real != self.root and self.root not in real.parents:
            raise self.err(f"{what} is outside the hub's credentials directory; refused")
        try:
            fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            raise self.err(f"{what} not found in the hub's credentials directory") from None
        except OSError as exc:
            raise self.err(f"{what} not readable ({exc.strerror})") from None
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise self.err(f"{what} is not a regular file; refused")
            if info.st_size > limit:
                raise self.err(f"{what} is over the {limit}-byte limit")
            return handle.read(limit + 1)[:limit]

    def load(self) -> ResolvedKubeconfig:
        return self.parse(self.read_confined(self.cluster.kubeconfig, "the kubeconfig", MAX_KUBECONFIG_BYTES))

    def parse(self, raw: bytes) -> ResolvedKubeconfig:
        if len(raw) > MAX_KUBECONFIG_BYTES:
            raise self.err(f"the kubeconfig is over the {MAX_KUBECONFIG_BYTES}-byte limit")
        try:
            # C loader: kubeconfigs with embedded certificates are big. Safe: no tags, no objects.
            check_depth(raw.decode("utf-8", errors="replace"))
            data = yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except TooDeep:
            raise self.err(f"YAML nested too deeply (more than {MAX_DEPTH} levels)") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            raise self.err(f"not valid YAML{where}") from None
        except (RecursionError, ValueError, TypeError):
            raise self.err("not a usable YAML document") from None
        if not isinstance(data, dict):
            raise self.err("not a mapping")
        context_name = self.cluster.context or data.get("current-context")
        if not isinstance(context_name, str) or not context_name:
            raise self.err("no context: set `context` in the cluster entry or current-context in the kubeconfig")
        context = self.named(data, "contexts", "context", context_name)
        cluster_name, user_name = context.get("cluster"), context.get("user")
        if not isinstance(cluster_name, str) or not cluster_name:
            raise self.err(f"context {context_name!r} names no cluster")
        cluster_entry = self.vet_cluster(self.named(data, "clusters", "cluster", cluster_name), cluster_name)
        if user_name is None or user_name == "":
            user_entry: dict[str, Any] = {}
        elif isinstance(user_name, str):
            user_entry = self.vet_user(self.named(data, "users", "user", user_name), user_name)
        else:
            raise self.err(f"context {context_name!r}: `user` must be a name")
        namespace = context.get("namespace")
        vetted_context: dict[str, Any] = {"cluster": "cluster", "user": "user"}
        if isinstance(namespace, str) and namespace:
            vetted_context["namespace"] = namespace
        vetted = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "cluster", "cluster": cluster_entry}],
            "users": [{"name": "user", "user": user_entry}],
            "contexts": [{"name": context_name, "context": vetted_context}],
            "current-context": context_name,
        }
        return ResolvedKubeconfig(self.cluster.name, context_name, str(cluster_entry["server"]), vetted)

    def named(self, data: dict[str, Any], section: str, key: str, name: str) -> dict[str, Any]:
        """The ``key`` mapping of the one entry of ``section`` called ``name``; two such entries are
        refused, since readers disagree on which one wins."""
        items = data.get(section)
        if items is None:
            items = []
        if not isinstance(items, list):
            raise self.err(f"`{section}` must be a list")
        found = [item for item in items if isinstance(item, dict) and item.get("name") == name]
        if not found:
            raise self.err(f"{key} {name!r} not found in the kubeconfig")
        if len(found) > 1:
            raise self.err(f"{key} {name!r} is defined {len(found)} times in `{section}`; refused")
        entry = found[0].get(key)
        if entry is None:
            return {}
        if not isinstance(entry, dict):
            raise self.err(f"{key} {name!r}: `{key}` must be a mapping")
        return entry

    def vet_cluster(self, entry: dict[str, Any], name: str) -> dict[str, Any]:
        vetted = self.copy_known(entry, f"cluster {name!r}", _CLUSTER_KEYS, _CLUSTER_FILES)
        server = vetted.get("server")
        if not isinstance(server, str) or not server:
            raise self.err(f"cluster {name!r} has no server")
        parts = urlsplit(server)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise self.err(f"cluster {name!r}: server must be an https:// (or http://) URL")
        if "insecure-skip-tls-verify" in vetted and not isinstance(vetted["insecure-skip-tls-verify"], bool):
            raise self.err(f"cluster {name!r}: insecure-skip-tls-verify must be true or false")
        return vetted

    def vet_user(self, entry: dict[str, Any], name: str) -> dict[str, Any]:
        plugins = [k for k in _PLUGINS if k in entry]
        if plugins and not self.config.allow_credential_plugins:
            raise self.err(
                f"user {name!r} uses a credential plugin ({plugins[0]}); refused because it would run a command "
                "on the hub. Allow it with `allowCredentialPlugins: true` in the hub config (not in the Git "
                "repository)"
            )
        known = _USER_KEYS | (set(_PLUGINS) if self.config.allow_credential_plugins else set())
        vetted = self.copy_known(entry, f"user {name!r}", known, {**_USER_FILES, "tokenFile": "token"})
        for key, value in vetted.items():
            if key not in _PLUGINS and not isinstance(value, str):
                raise self.err(f"user {name!r}: {key} must be a string")
        return vetted

    def copy_known(self, entry: dict[str, Any], what: str, keys: set[str], files: dict[str, str]) -> dict[str, Any]:
        unknown = sorted(str(k) for k in entry if k not in keys and k not in files and k not in _IGNORED)
        if unknown:
            raise self.err(f"{what}: unsupported field {unknown[0]!r}; refused (fleet only uses fields it vets)")
        vetted = {k: v for k, v in entry.items() if k in keys}
        for key, data_key in files.items():
            if key not in entry:
                continue
            if data_key in entry:
                raise self.err(f"{what}: both {key} and {data_key}; refused")
            value = entry[key]
            if not isinstance(value, str) or not value:
                raise self.err(f"{what}: {key} must be a file name")
            # Relative to the kubeconfig's own directory, as client-go reads it; never expanded.
            target = Path(value) if os.path.isabs(value) else self.cluster.kubeconfig.parent / value
            content = self.read_confined(target, f"{what}: {key}", MAX_CREDENTIAL_FILE_BYTES)
            if data_key == "token":
                vetted["token"] = content.decode("utf-8", errors="replace").strip()
            else:
                vetted[data_key] = base64.b64encode(content).decode()
        for key in ("certificate-authority-data", "client-certificate-data", "client-key-data"):
            if key in vetted:
                self.check_base64(vetted[key], f"{what}: {key}")
        return vetted

    def check_base64(self, value: Any, what: str) -> None:
        if not isinstance(value, str):
            raise self.err(f"{what} must be base64 text")
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise self.err(f"{what} is not valid base64") from None


def load_kubeconfig(cluster: Cluster, config: FleetConfig) -> ResolvedKubeconfig:
    """The vetted kubeconfig of ``cluster``; raises RegistryError naming the cluster entry and field."""
    vetting = _Vetting(cluster, config)
    if vetting.from_secret:
        raise vetting.err(
            "only a hub with a management cluster (`fleet hub --management-kubeconfig`, or in a pod) reads "
            "credentials from Secrets"
        )
    return vetting.load()


def parse_kubeconfig(cluster: Cluster, config: FleetConfig, raw: bytes) -> ResolvedKubeconfig:
    """A kubeconfig read from a Secret, vetted by the same rules as a file; it may name no file."""
    return _Vetting(cluster, config).parse(raw)


def vetting_error(cluster: Cluster, config: FleetConfig, message: str) -> RegistryError:
    """An error about the cluster's credentials, worded like the vetting's own."""
    return _Vetting(cluster, config).err(message)
