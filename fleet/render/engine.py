"""Render what one cluster should run: values merge, templates, patches, namespace defaults, fleet's
labels and annotations, identity and duplicate checks.

Layout of overlays/ (paths are repo-relative):

    overlays/base/values.yaml        defaults
    overlays/base/*.yaml             manifests (jinja2 templates, multi-document); ``_*`` files are partials
    overlays/<env>/values.yaml       the env's values
    overlays/<env>/release.yaml      the env's release pin: ``revision`` of base (HEAD: the rendered one)
                                     and promoted ``values`` (image tags, ...)
    overlays/<env>/*.yaml            extra manifests for the env
    overlays/<env>/patches/*.yaml    patches (strategic merge by kustomize, or RFC 6902 with a target)

Values merge base < env < cluster < release; templates see ``values``, ``cluster`` (name, env, labels),
``env`` and ``release``. The default namespace is ``values.namespace``, else the env's name.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fleet.errors import FleetError, RenderError
from fleet.model.cluster import Cluster
from fleet.model.objects import ObjectKey
from fleet.model.ordering import apply_order
from fleet.model.releasepin import pin_from_mapping
from fleet.model.rendered import Release, RenderedCluster
from fleet.model.vocabulary import (
    BASE,
    HEAD_REVISIONS,
    OVERLAYS,
    RESERVED_FILES,
    SOURCES_FILE,
    release_path,
)
from fleet.render.objects import check_object, default_namespace, documents, label, scopes_of_crds
from fleet.render.patchfiles import apply_patch_file
from fleet.render.sources import HelmSource, parse_sources, runner_for
from fleet.render.strategic import strategic_merge
from fleet.render.templates import TemplateSet
from fleet.render.tools import Tools
from fleet.render.values import merge_all
from fleet.repo.source import Snapshot
from fleet.yamlio import PARSED_TEXTS_BYTES, ParsedTexts, load_one

MAX_OBJECTS = 10_000  # per cluster


@dataclass(frozen=True)
class ProducedObjects:
    objects: list[tuple[dict[str, Any], str, int]]  # object, file, number
    notes: list[str]


def manifest_paths(snapshot: Snapshot, directory: str) -> list[str]:
    return [
        p
        for p in snapshot.listdir(directory, suffixes=(".yaml", ".yml"))
        if p.rsplit("/", 1)[1] not in RESERVED_FILES and not p.rsplit("/", 1)[1].startswith("_")
    ]


def envs_of(snapshot: Snapshot) -> list[str]:
    return [d for d in snapshot.subdirs(OVERLAYS) if d != "base"]


class Renderer:
    """Renders clusters from one snapshot. Templates are compiled and YAML files parsed once per revision
    and path, whatever the number of clusters."""

    def __init__(
        self,
        snapshot: Snapshot,
        *,
        load_revision: Callable[[str], Snapshot] | None = None,
        tools: Tools | None = None,
    ) -> None:
        self.snapshot = snapshot
        self.load_revision = load_revision
        self.tools = tools or Tools()  # none: sources.yaml fails with how to get the tools
        self._templates: dict[str, TemplateSet] = {}
        self._yaml: dict[tuple[str, str], Any] = {}
        self._releases: dict[str, Release] = {}
        self._parsed = ParsedTexts(PARSED_TEXTS_BYTES)  # rendered texts repeat across clusters

    # ---- cached inputs --------------------------------------------------------------------------

    def _mapping_file(self, snapshot: Snapshot, path: str, *, required: bool = False) -> dict[str, Any]:
        cache_key = (snapshot.revision, path)
        if cache_key not in self._yaml:
            if not snapshot.exists(path):
                if required:
                    raise RenderError("file missing", path=path)
                self._yaml[cache_key] = {}
            else:
                data = load_one(snapshot.text(path), path, error=RenderError)
                if data is None:
                    data = {}
                if not isinstance(data, dict):
                    raise RenderError("must be a mapping", path=path)
                self._yaml[cache_key] = data
        value = self._yaml[cache_key]
        assert isinstance(value, dict)
        return value

    def release(self, env: str) -> Release:
        if env not in self._releases:
            path = release_path(env)
            pin = pin_from_mapping(self._mapping_file(self.snapshot, path) or None, path)
            self._releases[env] = Release(pin.revision, pin.values)
        return self._releases[env]

    def _base_snapshot(self, env: str) -> Snapshot:
        revision = self.release(env).revision
        if revision in HEAD_REVISIONS or revision == self.snapshot.revision:
            return self.snapshot
        if self.load_revision is None:
            raise RenderError(
                f"release pins base at {revision!r}, but there is no Git repository to read it from",
                path=f"{OVERLAYS}/{env}/release.yaml",
                field="revision",
            )
        try:
            return self.load_revision(revision)
        except FleetError as exc:
            raise RenderError(
                f"cannot read the pinned revision: {exc}", path=f"{OVERLAYS}/{env}/release.yaml", field="revision"
            ) from None

    def _template_set(self, base: Snapshot) -> TemplateSet:
        if base.revision not in self._templates:
            combined = self.snapshot if base is self.snapshot else self.snapshot.overlay(base, BASE + "/")
            self._templates[base.revision] = TemplateSet(combined)
        return self._templates[base.revision]

    # ---- render ---------------------------------------------------------------------------------

    def render(self, cluster: Cluster) -> RenderedCluster:
        env = cluster.env
        env_dir = f"{OVERLAYS}/{env}"
        if not self.snapshot.subdirs(OVERLAYS) or env not in envs_of(self.snapshot):
            raise RenderError(
                f"unknown env {env!r}: there is no {env_dir}/ at revision {self.snapshot.revision}",
                path=cluster.source,
                field="env",
                cluster=cluster.name,
            )
        release = self.release(env)
        base = self._base_snapshot(env)
        templates = self._template_set(base)
        templates.forget_state()
        values = merge_all(
            self._mapping_file(base, f"{BASE}/values.yaml"),
            self._mapping_file(self.snapshot, f"{env_dir}/values.yaml"),
            cluster.values,
            release.values,
        )
        context = {
            "values": values,
            "cluster": cluster.template_view(),
            "env": env,
            "release": {"revision": base.revision},
        }
        namespace = values.get("namespace", env)
        if not isinstance(namespace, str) or not namespace:
            raise RenderError(
                "values.namespace must be a non-empty string",
                path=f"{env_dir}/values.yaml",
                field="namespace",
                cluster=cluster.name,
            )

        sources: dict[ObjectKey, str] = {}
        objects: list[tuple[dict[str, Any], str, int]] = []  # object, file, document number
        for path in manifest_paths(base, BASE) + manifest_paths(self.snapshot, env_dir):
            text = templates.render(path, context, cluster=cluster.name)
            objects += [(obj, path, number) for obj, number in documents(text, path, cluster.name, cache=self._parsed)]
        notes: list[str] = []
        for path in (f"{BASE}/{SOURCES_FILE}", f"{env_dir}/{SOURCES_FILE}"):
            if templates.snapshot.exists(path):
                produced = self._sources(templates, path, context, cluster, namespace)
                objects += produced.objects
                notes += produced.notes
        crd_scopes = scopes_of_crds(o for o, _, _ in objects)
        for path in self.snapshot.listdir(f"{env_dir}/patches", suffixes=(".yaml", ".yml")):
            text = templates.render(path, context, cluster=cluster.name)
            docs = [d for d, _ in documents(text, path, cluster.name, require_object=False, cache=self._parsed)]
            merge = functools.partial(strategic_merge, self.tools, path=path, cluster=cluster.name)
            objects = apply_patch_file(objects, docs, path, cluster.name, namespace, crd_scopes, merge)
        result: dict[ObjectKey, dict[str, Any]] = {}
        for obj, path, number in objects:
            # Again after patches: a patch may have removed or retyped metadata, kind or apiVersion.
            check_object(obj, f"{path} (document {number})", 0, cluster.name)
            default_namespace(obj, namespace, crd_scopes)
            label(obj, cluster, self.snapshot.revision, path)
            key = ObjectKey.of(obj)
            where = f"{path} (document {number})"
            if key in result:
                raise RenderError(
                    f"duplicate object {key}: defined in {sources[key]} and in {where}", path=path, cluster=cluster.name
                )
            sources[key] = where
            result[key] = obj
        if len(result) > MAX_OBJECTS:
            raise RenderError(
                f"renders {len(result)} objects, over the limit of {MAX_OBJECTS}", path=env_dir, cluster=cluster.name
            )
        ordered = dict(sorted(result.items(), key=lambda kv: apply_order(kv[0], kv[1])))
        return RenderedCluster(
            cluster, self.snapshot.revision, base.revision, ordered, dict(release.values), tuple(notes)
        )

    def _sources(
        self, templates: TemplateSet, path: str, context: dict[str, Any], cluster: Cluster, namespace: str
    ) -> ProducedObjects:
        """The objects of the Helm charts and Kustomize directories ``path`` declares."""
        text = templates.render(path, context, cluster=cluster.name)
        runner = runner_for(self.tools)
        minor = cluster.kubernetes_version
        kube_version = f"v{minor}.0" if minor else ""
        objects: list[tuple[dict[str, Any], str, int]] = []
        notes: list[str] = []
        for source in parse_sources(text, path, cluster=cluster.name, namespace=namespace):
            produced = runner.produce(
                source, templates.snapshot, path=path, cluster=cluster.name, kube_version=kube_version
            )
            where = f"{path} ({'helm ' + source.release if isinstance(source, HelmSource) else 'kustomize'})"
            scopes = scopes_of_crds(produced.objects)
            for number, obj in enumerate(produced.objects, start=1):
                check_object(obj, f"{where} (object {number})", 0, cluster.name)
                if isinstance(source, HelmSource):
                    default_namespace(obj, source.namespace, scopes)  # the release's namespace, as helm would
                objects.append((obj, path, number))
            notes += produced.notes
        return ProducedObjects(objects, notes)
