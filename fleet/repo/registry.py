"""Loading the cluster registry: one ``clusters/<name>.yaml`` per cluster, validated field by field (the
models and selection are ``fleet.model.cluster``)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fleet.config import FleetConfig
from fleet.errors import RegistryError
from fleet.model.cluster import Cluster, Registry
from fleet.model.vocabulary import CLUSTERS_DIR
from fleet.repo.source import Snapshot
from fleet.yamlio import key_lines, load_one

FIELDS = {
    "name",
    "env",
    "labels",
    "kubeconfig",
    "kubeconfigSecret",
    "context",
    "values",
    "enabled",
    "kubernetesVersion",
}
SECRET_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
KUBERNETES_VERSION = re.compile(r"^v?(1)\.(\d{1,3})(\.\d{1,3})?$")
NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
LABEL_PREFIX = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")


def _check_labels(raw: Any, err: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise err("must be a mapping of label names to values", "labels")
    labels: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(key, str):
            raise err(f"label names are strings; quote {key!r}", f"labels.{key}")
        prefix, _, name = key.rpartition("/")
        if not LABEL_NAME.match(name) or (prefix and not LABEL_PREFIX.match(prefix)):
            raise err(f"invalid label name {key!r}", f"labels.{key}")
        if isinstance(value, (dict, list)) or value is None:
            raise err("label values are strings", f"labels.{key}")
        text = str(value).lower() if isinstance(value, bool) else str(value)
        if not LABEL_VALUE.match(text):
            raise err(f"invalid label value {text!r} (at most 63 letters, digits, '-', '_', '.')", f"labels.{key}")
        labels[key] = text
    return labels


def resolve_kubeconfig(raw: str, credentials_dir: Path) -> Path:
    """A relative path resolves against the hub's credentials dir. Nothing is expanded: ``~`` and ``$VAR``
    from Git would read the hub's environment. Confinement to the credentials dir (after symlinks) is
    checked when the kubeconfig is read (fleet.kube.kubeconfig), where the file system is looked at."""
    path = Path(raw)
    return path if path.is_absolute() else credentials_dir / path


def parse_cluster(path: str, text: str, config: FleetConfig, known_envs: Iterable[str] | None) -> Cluster:
    lines = key_lines(text)

    def err(message: str, fld: str | None = None) -> RegistryError:
        top = fld.split(".", 1)[0] if fld else None
        return RegistryError(message, path=path, line=lines.get(top) if top else None, field=fld)

    data = load_one(text, path, error=RegistryError)
    if not isinstance(data, dict):
        raise err("a cluster entry must be a mapping with at least name and env")
    unknown = sorted(str(k) for k in set(data) - FIELDS)
    if unknown:
        raise err(f"unknown field; known fields: {', '.join(sorted(FIELDS))}", unknown[0])
    stem = Path(path).stem
    name = data.get("name", stem)
    if not isinstance(name, str) or not NAME.match(name):
        raise err("must be a DNS label: lowercase letters, digits and '-', at most 63 characters", "name")
    if name != stem:
        raise err(f"must match the file name ({stem!r})", "name")
    env = data.get("env")
    if env is None:
        raise err("required: the environment this cluster belongs to (e.g. dev, staging, prod)", "env")
    if not isinstance(env, str) or not NAME.match(env) or env == "base":
        raise err("must be a DNS label naming a directory under overlays/ (not 'base')", "env")
    if known_envs is not None:
        envs = sorted(known_envs)
        if env not in envs:
            raise err(f"unknown env {env!r}: there is no overlays/{env}/ (envs: {', '.join(envs) or 'none'})", "env")
    labels = _check_labels(data.get("labels"), err)
    kubeconfig, secret = data.get("kubeconfig"), data.get("kubeconfigSecret")
    if secret is not None:
        if kubeconfig is not None:
            raise err("give either kubeconfig (a file) or kubeconfigSecret (a Secret), not both", "kubeconfigSecret")
        if not isinstance(secret, str) or not SECRET_NAME.match(secret):
            raise err(
                "must be the name of a Secret in the hub's namespace (a lowercase DNS subdomain)", "kubeconfigSecret"
            )
        kubeconfig = ""
    elif not isinstance(kubeconfig, str) or not kubeconfig.strip():
        raise err(
            "required: path of the kubeconfig (relative paths resolve in the hub's credentials dir), "
            "or kubeconfigSecret",
            "kubeconfig",
        )
    context = data.get("context")
    if context is not None and not isinstance(context, str):
        raise err("must be a string", "context")
    values = data.get("values") or {}
    if not isinstance(values, dict):
        raise err("must be a mapping", "values")
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise err("must be true or false", "enabled")
    version = data.get("kubernetesVersion")
    match = KUBERNETES_VERSION.match(version) if isinstance(version, str) else None
    if version is not None and match is None:
        raise err('must be a Kubernetes version such as "1.34" (quoted) or "v1.34.4"', "kubernetesVersion")
    return Cluster(
        name=name,
        env=env,
        labels=labels,
        kubeconfig=resolve_kubeconfig(kubeconfig, config.credentials_dir) if kubeconfig else Path(),
        context=context,
        values=values,
        enabled=enabled,
        source=path,
        kubeconfig_ref=kubeconfig,
        kubernetes_version=f"{match.group(1)}.{int(match.group(2))}" if match else "",
        kubeconfig_secret=secret or "",
    )


def load_registry(snapshot: Snapshot, config: FleetConfig, *, known_envs: Iterable[str] | None = None) -> Registry:
    paths = snapshot.listdir(CLUSTERS_DIR, suffixes=(".yaml", ".yml"))
    if not paths:
        raise RegistryError(f"no cluster files in {CLUSTERS_DIR}/ at revision {snapshot.revision}", path=CLUSTERS_DIR)
    stems: dict[str, str] = {}
    for p in paths:
        stem = Path(p).stem
        if stem in stems:
            raise RegistryError(f"cluster {stem!r} is defined twice: in {stems[stem]} and in {p}", path=p)
        stems[stem] = p
    envs = list(known_envs) if known_envs is not None else None
    clusters = sorted((parse_cluster(p, snapshot.text(p), config, envs) for p in paths), key=lambda c: c.name)
    return Registry(tuple(clusters))
