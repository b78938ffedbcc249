"""Everything a read-only command needs from the fleet's repository: the snapshot at a revision, the
hub's config, the registry and rendering (in bounded worker processes) that can read pinned base
revisions."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from fleet.config import FleetConfig
from fleet.errors import FleetError, InputError, SourceError
from fleet.lab.versions import bin_dir, cache_root, tools_bin_dir
from fleet.model.cluster import Cluster, Registry, Selection
from fleet.model.rendered import RenderedCluster
from fleet.model.vocabulary import HEAD_REVISIONS
from fleet.render.engine import Renderer, envs_of
from fleet.render.tools import Tools, tool_version
from fleet.render.worker import Bundle, RenderLimits, shared_pool
from fleet.repo.registry import load_registry
from fleet.repo.source import Repository, Snapshot, working_tree


@dataclass
class Workspace:
    snapshot: Snapshot
    config: FleetConfig
    repository: Repository | None = None

    @classmethod
    def open(cls, repo: Path, *, ref: str = "HEAD", local: bool = False, config: FleetConfig) -> Workspace:
        """``local`` reads the working tree (uncommitted edits included); pinned base revisions are still
        read from Git when the directory is a repository."""
        if local:
            return cls(working_tree(repo), config, _repository_or_none(repo))
        repository = Repository(repo)
        return cls(repository.snapshot(ref), config, repository)

    @cached_property
    def registry(self) -> Registry:
        return load_registry(self.snapshot, self.config, known_envs=envs_of(self.snapshot))

    @cached_property
    def renderer(self) -> Renderer:
        """The in-process renderer: only for trusted, bounded work (reading release pins)."""
        load = self.repository.snapshot if self.repository is not None else None
        return Renderer(self.snapshot, load_revision=load)

    @cached_property
    def limits(self) -> RenderLimits:
        return RenderLimits(timeout=self.config.render_timeout, memory_mb=self.config.render_memory_mb)

    @cached_property
    def bundle(self) -> Bundle:
        """The snapshot and every base revision its release pins name, read here (workers never read Git)."""
        pinned: dict[str, Snapshot | str] = {}
        for env in envs_of(self.snapshot):
            try:
                revision = self.renderer.release(env).revision
            except FleetError:
                continue  # the worker reports the bad pin for the env's clusters
            if revision in HEAD_REVISIONS or revision == self.snapshot.revision or revision in pinned:
                continue
            if self.repository is None:
                continue  # the worker says there is no repository to read it from
            try:
                pinned[revision] = self.repository.snapshot(revision)
            except FleetError as exc:
                pinned[revision] = str(exc)
        return Bundle(self.snapshot, pinned, render_tools(self.config))

    def select(self, selection: Selection) -> list[Cluster]:
        return self.registry.select(selection)

    def render(self, cluster: Cluster) -> RenderedCluster:
        """One cluster's desired objects, rendered in a worker process within the render limits."""
        result = shared_pool(self.limits).render(self.bundle, cluster)
        return RenderedCluster(
            cluster, result.revision, result.base_revision, result.objects, result.release_values, result.notes
        )

    def render_all(self, clusters: Sequence[Cluster]) -> list[RenderedCluster]:
        """Every cluster rendered (in parallel workers) before anything else happens; the first failure in
        the clusters' order is raised, so a bad template changes nothing anywhere."""
        if len(clusters) <= 1:
            return [self.render(c) for c in clusters]
        # Twice as many threads as workers: one decodes an answer while another's render runs.
        with ThreadPoolExecutor(2 * self.limits.workers) as threads:
            futures = [threads.submit(self.render, c) for c in clusters]
        return [f.result() for f in futures]


def _repository_or_none(path: Path) -> Repository | None:
    try:
        return Repository(path)
    except SourceError:
        return None


def render_tools(config: FleetConfig) -> Tools:
    """The Helm and kubectl that render sources: the hub config's (their versions checked once), else the
    pinned ones `fleet lab build` built (empty when neither exists: a sources.yaml then fails with how to
    get them)."""
    for field, configured, tool in (
        ("helmPath", config.helm_path, "helm"),
        ("kubectlPath", config.kubectl_path, "kustomize"),
    ):
        if configured is not None:
            _checked(str(configured), tool, field)
    helm = config.helm_path or tools_bin_dir() / "helm"
    kubectl = config.kubectl_path or bin_dir() / "kubectl"
    return Tools(
        helm=str(helm) if helm.is_file() else "",
        kubectl=str(kubectl) if kubectl.is_file() else "",
        chart_repositories=config.chart_repositories,
        chart_cache=str(cache_root() / "charts"),
        shared_cache=_shared_render_cache(),
    )


@functools.cache
def _shared_render_cache() -> str:
    """A private directory, for this process's life, where its render workers share tool output (keyed by
    every input, so content from Git cannot be confused with other content)."""
    directory = tempfile.mkdtemp(prefix="fleet-renders-")
    atexit.register(shutil.rmtree, directory, True)
    return directory


@functools.cache
def _checked(binary: str, tool: str, field: str) -> str:
    try:
        return tool_version(binary, tool)
    except ValueError as exc:
        raise InputError(str(exc), field=field) from None
