"""Everything a read-only command needs from the fleet's repository: the snapshot at a revision, the
hub's config, the registry and a renderer that can read pinned base revisions."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from fleet.config import FleetConfig
from fleet.registry import Cluster, Registry, Selection, load_registry
from fleet.render.engine import RenderedCluster, Renderer, envs_of
from fleet.source import Repository, Snapshot, working_tree


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
        load = self.repository.snapshot if self.repository is not None else None
        return Renderer(self.snapshot, load_revision=load)

    def select(self, selection: Selection) -> list[Cluster]:
        return self.registry.select(selection)

    def render(self, cluster: Cluster) -> RenderedCluster:
        return self.renderer.render(cluster)


def _repository_or_none(path: Path) -> Repository | None:
    from fleet.errors import SourceError

    try:
        return Repository(path)
    except SourceError:
        return None
