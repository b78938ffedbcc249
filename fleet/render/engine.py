"""Render what one cluster should run: values merge, templates, patches, namespace defaults, fleet's
labels and annotations, identity and duplicate checks.

Layout of overlays/ (paths are repo-relative):

    overlays/base/values.yaml        defaults
    overlays/base/*.yaml             manifests (jinja2 templates, multi-document); ``_*`` files are partials
    overlays/<env>/values.yaml       the env's values
    overlays/<env>/release.yaml      the env's release pin: ``revision`` of base (HEAD: the rendered one)
                                     and promoted ``values`` (image tags, ...)
    overlays/<env>/*.yaml            extra manifests for the env
    overlays/<env>/patches/*.yaml    patches (strategic-merge style or RFC 6902 with a target)

Values merge base < env < cluster < release; templates see ``values``, ``cluster`` (name, env, labels),
``env`` and ``release``. The default namespace is ``values.namespace``, else the env's name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fleet.errors import FleetError, RenderError
from fleet.objects import CLUSTER_SCOPED, ObjectKey, split_api_version
from fleet.ordering import apply_order
from fleet.registry import Cluster
from fleet.releasepin import HEAD_REVISIONS, OVERLAYS, pin_from_mapping, release_path
from fleet.render import patches as patching
from fleet.render.templates import TemplateSet
from fleet.render.values import merge_all
from fleet.source import Snapshot
from fleet.yamlio import document_lines, load_all, load_one

BASE = f"{OVERLAYS}/base"
RESERVED = {"values.yaml", "release.yaml", "env.yaml"}
MAX_OBJECTS = 10_000  # per cluster

MANAGED_BY = "app.kubernetes.io/managed-by"
CLUSTER_LABEL = "fleet.dev/cluster"
ENV_LABEL = "fleet.dev/env"
REVISION_ANNOTATION = "fleet.dev/source-revision"
SOURCE_ANNOTATION = "fleet.dev/source-path"


@dataclass(frozen=True)
class Release:
    revision: str
    values: Mapping[str, Any]


@dataclass(frozen=True)
class RenderedCluster:
    cluster: Cluster
    revision: str  # the revision the env overlay and registry were read at
    base_revision: str  # the revision base was read at (the env's release pin)
    objects: Mapping[ObjectKey, dict[str, Any]]  # in apply order
    release_values: Mapping[str, Any] = field(default_factory=dict)  # the values of the env's release pin

    @property
    def release(self) -> dict[str, Any]:
        """What the env's release pin made this cluster run: recorded in the inventory, so a rollout
        across waves can tell which clusters run which release."""
        return {"revision": self.base_revision, "values": dict(self.release_values)}


def manifest_paths(snapshot: Snapshot, directory: str) -> list[str]:
    return [
        p
        for p in snapshot.listdir(directory, suffixes=(".yaml", ".yml"))
        if p.rsplit("/", 1)[1] not in RESERVED and not p.rsplit("/", 1)[1].startswith("_")
    ]


def envs_of(snapshot: Snapshot) -> list[str]:
    return [d for d in snapshot.subdirs(OVERLAYS) if d != "base"]


class Renderer:
    """Renders clusters from one snapshot. Templates are compiled and YAML files parsed once per revision
    and path, whatever the number of clusters."""

    def __init__(self, snapshot: Snapshot, *, load_revision: Callable[[str], Snapshot] | None = None) -> None:
        self.snapshot = snapshot
        self.load_revision = load_revision
        self._templates: dict[str, TemplateSet] = {}
        self._yaml: dict[tuple[str, str], Any] = {}
        self._releases: dict[str, Release] = {}

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
            objects += [(obj, path, number) for obj, number in _documents(text, path, cluster.name)]
        crd_scopes = _crd_scopes(o for o, _, _ in objects)
        for path in self.snapshot.listdir(f"{env_dir}/patches", suffixes=(".yaml", ".yml")):
            text = templates.render(path, context, cluster=cluster.name)
            docs = [d for d, _ in _documents(text, path, cluster.name, require_object=False)]
            objects = _apply_patches(objects, docs, path, cluster.name, namespace, crd_scopes)
        result: dict[ObjectKey, dict[str, Any]] = {}
        for obj, path, number in objects:
            # Again after patches: a patch may have removed or retyped metadata, kind or apiVersion.
            _check_object(obj, f"{path} (document {number})", 0, cluster.name)
            _default_namespace(obj, namespace, crd_scopes)
            _label(obj, cluster, self.snapshot.revision, path)
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
        return RenderedCluster(cluster, self.snapshot.revision, base.revision, ordered, dict(release.values))


def _documents(text: str, path: str, cluster: str, *, require_object: bool = True) -> list[tuple[dict[str, Any], int]]:
    """The non-empty documents of a rendered file, each with its 1-based index in the stream."""
    docs = load_all(text, path, cluster=cluster, what=" in rendered output", error=RenderError)
    result = []
    for index, doc in enumerate(docs):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise RenderError(
                f"document {index + 1} is a {type(doc).__name__}, not a mapping",
                path=path,
                line=_line(text, index),
                cluster=cluster,
            )
        if require_object:
            try:
                _check_object(doc, path, 0, cluster)
            except RenderError as exc:
                raise RenderError(
                    exc.detail, path=path, line=_line(text, index), field=exc.field, cluster=cluster
                ) from None
        result.append((doc, index + 1))
    return result


def _line(text: str, index: int) -> int | None:
    # Only on the error path: composing again is slow, and lines are not needed otherwise.
    lines = document_lines(text)
    return lines[index] if index < len(lines) and lines[index] else None


def _check_object(obj: dict[str, Any], path: str, line: int, cluster: str) -> None:
    def err(message: str, fld: str) -> RenderError:
        return RenderError(message, path=path, line=line or None, field=fld, cluster=cluster)

    for fld in ("apiVersion", "kind"):
        if not isinstance(obj.get(fld), str) or not obj[fld]:
            raise err("required (a non-empty string)", fld)
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        raise err("required (a mapping with name)", "metadata")
    if not isinstance(meta.get("name"), str) or not meta["name"]:
        raise err("required (a non-empty string)", "metadata.name")
    if "namespace" in meta and meta["namespace"] is not None and not isinstance(meta["namespace"], str):
        raise err("must be a string", "metadata.namespace")
    for fld in ("labels", "annotations"):
        if meta.get(fld) is not None and not isinstance(meta[fld], dict):
            raise err("must be a mapping", f"metadata.{fld}")
        for key, value in (meta.get(fld) or {}).items():
            if not isinstance(key, str):
                raise err(f"keys must be strings; quote {key!r}", f"metadata.{fld}")
            if isinstance(value, (dict, list)):
                raise err("values must be strings", f"metadata.{fld}.{key}")


def _crd_scopes(objects: Any) -> dict[tuple[str, str], str]:
    scopes = {}
    for obj in objects:
        if obj.get("kind") == "CustomResourceDefinition":
            spec = obj.get("spec") or {}
            names = spec.get("names") or {}
            if isinstance(names, dict) and isinstance(spec.get("group"), str):
                scopes[(spec["group"], str(names.get("kind")))] = str(spec.get("scope", "Namespaced"))
    return scopes


def is_namespaced(group: str, kind: str, crd_scopes: Mapping[tuple[str, str], str]) -> bool:
    if (group, kind) in CLUSTER_SCOPED:
        return False
    return crd_scopes.get((group, kind), "Namespaced") == "Namespaced"


def _default_namespace(obj: dict[str, Any], namespace: str, crd_scopes: Mapping[tuple[str, str], str]) -> None:
    meta = obj["metadata"]
    group = split_api_version(obj["apiVersion"])[0]
    if is_namespaced(group, obj["kind"], crd_scopes):
        if not meta.get("namespace"):
            meta["namespace"] = namespace
    else:
        meta.pop("namespace", None)


def _label(obj: dict[str, Any], cluster: Cluster, revision: str, source: str) -> None:
    meta = obj["metadata"]
    labels = {k: _label_text(v) for k, v in (meta.get("labels") or {}).items()}
    labels.update({MANAGED_BY: "fleet", CLUSTER_LABEL: cluster.name, ENV_LABEL: cluster.env})
    meta["labels"] = labels
    annotations = {k: _label_text(v) for k, v in (meta.get("annotations") or {}).items()}
    annotations.update({REVISION_ANNOTATION: revision, SOURCE_ANNOTATION: source})
    meta["annotations"] = annotations


def _label_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _apply_patches(
    objects: list[tuple[dict[str, Any], str, int]],
    docs: list[dict[str, Any]],
    path: str,
    cluster: str,
    namespace: str,
    crd_scopes: Mapping[tuple[str, str], str],
) -> list[tuple[dict[str, Any], str, int]]:
    for number, doc in enumerate(docs, start=1):
        where = f"patch {number}"
        try:
            if "patch" in doc and "kind" not in doc:
                target = _target(doc.get("target"), where)
                ops = doc["patch"]
                if not isinstance(ops, list):
                    raise patching.PatchError(f"{where}: `patch` must be a list of operations")
                hits = 0
                for index, (obj, source, doc_number) in enumerate(objects):
                    if target.matches(_with_namespace(obj, namespace, crd_scopes)):
                        objects[index] = (patching.json_patch(obj, ops), source, doc_number)
                        hits += 1
                if not hits:
                    raise patching.PatchError(f"{where}: target {target} matches no object")
            else:
                _check_object(doc, path, 0, cluster)
                want = ObjectKey.of(_with_namespace(doc, namespace, crd_scopes))
                hits = 0
                for index, (obj, source, doc_number) in enumerate(objects):
                    if ObjectKey.of(_with_namespace(obj, namespace, crd_scopes)) == want:
                        merged = patching.strategic_merge(obj, doc)
                        merged["apiVersion"], merged["kind"] = obj["apiVersion"], obj["kind"]
                        objects[index] = (merged, source, doc_number)
                        hits += 1
                if not hits:
                    raise patching.PatchError(f"{where}: {want} matches no object")
        except patching.PatchError as exc:
            raise RenderError(str(exc), path=path, cluster=cluster) from None
    return objects


def _with_namespace(obj: dict[str, Any], namespace: str, crd_scopes: Mapping[tuple[str, str], str]) -> dict[str, Any]:
    """A shallow view of ``obj`` with the namespace it will get, for matching patches before defaulting."""
    meta = obj.get("metadata") or {}
    if meta.get("namespace"):
        return obj
    group = split_api_version(str(obj.get("apiVersion", "")))[0]
    if not is_namespaced(group, str(obj.get("kind", "")), crd_scopes):
        return obj
    return {**obj, "metadata": {**meta, "namespace": namespace}}


def _target(raw: Any, where: str) -> patching.Target:
    if not isinstance(raw, dict) or not raw:
        raise patching.PatchError(f"{where}: `target` must be a mapping (group, version, kind, name, ...)")
    known = {"group", "version", "kind", "name", "namespace", "labelSelector"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise patching.PatchError(f"{where}: unknown target field {unknown[0]!r}")
    fields = {k: (None if raw.get(k) is None else str(raw.get(k))) for k in known}
    return patching.Target(
        group=fields["group"],
        version=fields["version"],
        kind=fields["kind"],
        name=fields["name"],
        namespace=fields["namespace"],
        label_selector=fields["labelSelector"],
    )
