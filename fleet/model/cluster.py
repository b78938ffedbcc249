"""The cluster registry as data: a cluster (what one ``clusters/<name>.yaml`` declares), the registry, and
selection over it (``--cluster``, ``--env``, ``--selector``). Loading and validating the files is
``fleet.repo.registry``'s job; everything here is pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleet.errors import UsageError
from fleet.model.vocabulary import ROLLOUT_WAVE_LABEL
from fleet.selector import Selector

_ENV_STAGES = {"dev": 0, "development": 0, "test": 1, "qa": 1, "stage": 2, "staging": 2, "prod": 3, "production": 3}


def env_order(env: str) -> tuple[int, str]:
    """Envs in promotion order where their names say it (dev, qa, staging, prod), others after, by name."""
    return _ENV_STAGES.get(env, 4), env


@dataclass(frozen=True)
class Cluster:
    name: str
    env: str
    labels: Mapping[str, str]
    kubeconfig: Path  # where the hub looks; vetted (confined to the credentials dir) when it is loaded
    context: str | None
    values: Mapping[str, Any] = field(default_factory=dict)
    enabled: bool = True
    source: str = ""
    kubeconfig_ref: str = ""  # the path as written in Git, for messages
    kubernetes_version: str = ""  # "1.34": the minor the cluster runs, as the registry declares it
    kubeconfig_secret: str = ""  # the Secret in the hub's namespace holding the kubeconfig (instead of a file)

    def template_view(self) -> dict[str, Any]:
        """What templates see as ``cluster``: never the kubeconfig. ``kubernetesVersion`` ("1.34", or ""
        when the entry declares none) and ``kubernetesMinor`` (34, or 0) let one repository serve a fleet
        at mixed versions: ``{% if cluster.kubernetesMinor >= 35 %}``."""
        minor = int(self.kubernetes_version.split(".")[1]) if self.kubernetes_version else 0
        return {
            "name": self.name,
            "env": self.env,
            "labels": dict(self.labels),
            "kubernetesVersion": self.kubernetes_version,
            "kubernetesMinor": minor,
        }


@dataclass(frozen=True)
class Selection:
    clusters: tuple[str, ...] = ()
    envs: tuple[str, ...] = ()
    selector: Selector | None = None
    include_disabled: bool = False

    @property
    def is_everything(self) -> bool:
        return not (self.clusters or self.envs or (self.selector and self.selector.requirements))

    def matches(self, name: str, env: str, labels: Mapping[str, str]) -> bool:
        """Whether a cluster with this name, env and labels is chosen (enabled or not)."""
        if self.clusters and name not in self.clusters:
            return False
        if self.envs and env not in self.envs:
            return False
        return self.selector is None or self.selector.matches(labels)


@dataclass(frozen=True)
class Registry:
    clusters: tuple[Cluster, ...]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.clusters]

    @property
    def envs(self) -> list[str]:
        return sorted({c.env for c in self.clusters}, key=env_order)

    def get(self, name: str) -> Cluster:
        for cluster in self.clusters:
            if cluster.name == name:
                return cluster
        raise UsageError(f"unknown cluster {name!r}; known clusters: {', '.join(self.names) or 'none'}")

    def select(self, selection: Selection) -> list[Cluster]:
        for name in selection.clusters:
            self.get(name)
        for env in selection.envs:
            if env not in self.envs:
                raise UsageError(f"unknown env {env!r}; envs in the registry: {', '.join(self.envs) or 'none'}")
        chosen = []
        for cluster in self.clusters:
            if not selection.matches(cluster.name, cluster.env, cluster.labels):
                continue
            # A cluster named explicitly is selected even when disabled: the user asked for it.
            if not cluster.enabled and not selection.include_disabled and cluster.name not in selection.clusters:
                continue
            chosen.append(cluster)
        if not chosen:
            raise UsageError("no enabled cluster matches the selection")
        return chosen


def rollout_wave(cluster: Cluster) -> int:
    """The cluster's wave in its env's rollouts (its ``wave`` label; 1 without one). Not an object's apply
    wave (``ordering.apply_wave``)."""
    raw = cluster.labels.get(ROLLOUT_WAVE_LABEL, "1")
    try:
        return max(1, int(raw))
    except ValueError:
        return 1
