"""Helm charts and Kustomize directories as sources, beside jinja2 templates.

``overlays/base/sources.yaml`` and ``overlays/<env>/sources.yaml`` (optional) are jinja2 templates like the
manifests, rendered with the same ``values``, ``cluster``, ``env`` and ``release``; what they render is:

    helm:
      - chart: charts/shop        # a chart directory, relative to this file (vendored dependencies only)
        release: shop             # default: the chart directory's name
        namespace: shop           # default: the env's namespace
        includeCRDs: true         # the chart's crds/ (default true): applied first, like any CRD
        values:                   # the chart's values, explicitly: fleet's values reach the chart only here
          replicaCount: {{ values.replicas }}
          image: {tag: "{{ values.tag }}"}
    kustomize:
      - path: kustomize/dev       # a directory with kustomization.yaml, relative to this file

What they produce goes through the same steps as templates: patches, default namespace, fleet's labels,
identity checks. Chart hooks (``helm.sh/hook``) are not run as hooks and not applied: fleet applies
declared state, and a hook is an action at a moment of an install; they are left out and named in the
render's notes (`fleet render` prints them). Renders are cached by their exact inputs (tool, files,
values), so clusters that share values run the tool once per worker.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import posixpath
import re
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fleet.errors import RenderError
from fleet.model.vocabulary import OVERLAYS
from fleet.render.chartrepo import fetch_chart
from fleet.render.tools import Tools, run_tool, workdir
from fleet.repo.source import Snapshot
from fleet.yamlio import load_all, load_one

HOOK_ANNOTATION = "helm.sh/hook"
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
HELM_FIELDS = {"chart", "release", "namespace", "includeCRDs", "values", "repo", "version"}
EXACT_VERSION = re.compile(r"^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.+-]+)?$")
KUSTOMIZE_FIELDS = {"path"}
CACHE_ENTRIES = 256  # tool outputs a worker keeps in memory
SHARED_ENTRIES = 4096  # tool outputs the workers of one process share on disk
PACKAGES_KEPT = 32  # verified chart packages a worker keeps in memory
TREES_KEPT = 8  # (snapshot, directory) file sets a worker keeps read and hashed
_REMOTE_MARKERS = ("://", "github.com/", "gitlab.com/", "bitbucket.org/", "git@", "git::", "ssh:")
_REFERENCE_FIELDS = ("resources", "bases", "components", "crds", "generators", "transformers", "validators")


@dataclass(frozen=True)
class HelmSource:
    chart: str  # repository path of the chart directory; with ``repo``: the chart's name in that repository
    release: str
    namespace: str
    include_crds: bool
    values: Mapping[str, Any] = field(default_factory=dict)
    repo: str = ""  # an HTTP chart repository (the hub config must allow it)
    version: str = ""  # with ``repo``: the exact version


@dataclass(frozen=True)
class KustomizeSource:
    path: str  # repository path of the kustomization directory


@dataclass(frozen=True)
class Produced:
    """Objects a source produced, and what it left out (hooks), for the render's notes."""

    objects: list[dict[str, Any]]
    notes: list[str]


def parse_sources(text: str, path: str, *, cluster: str, namespace: str) -> list[HelmSource | KustomizeSource]:
    """The sources a rendered ``sources.yaml`` declares, validated field by field."""
    data = load_one(text, path, cluster=cluster, what=" in rendered output", error=RenderError)
    if data is None:
        return []
    if not isinstance(data, dict):
        raise RenderError("must be a mapping with `helm` and/or `kustomize`", path=path, cluster=cluster)
    unknown = sorted(str(k) for k in data if k not in ("helm", "kustomize"))
    if unknown:
        raise RenderError("unknown field; known: helm, kustomize", path=path, field=unknown[0], cluster=cluster)
    directory = posixpath.dirname(path)
    found: list[HelmSource | KustomizeSource] = []
    for index, entry in enumerate(_entries(data, "helm", path, cluster)):
        where = f"helm[{index}]"
        _known(entry, HELM_FIELDS, where, path, cluster)
        repo, version = entry.get("repo"), entry.get("version")
        if repo is None:
            if version is not None:
                raise RenderError("only with repo", path=path, field=f"{where}.version", cluster=cluster)
            chart = _inside(directory, _string(entry, "chart", where, path, cluster), f"{where}.chart", path, cluster)
        else:
            if not isinstance(repo, str) or not repo.startswith(("http://", "https://")):
                message = "must be an http(s) chart repository URL (OCI registries are not supported)"
                raise RenderError(message, path=path, field=f"{where}.repo", cluster=cluster)
            if not isinstance(version, str) or not EXACT_VERSION.match(version):
                message = "must be the chart's exact version (1.2.3): ranges would change what runs without a commit"
                raise RenderError(message, path=path, field=f"{where}.version", cluster=cluster)
            chart = _string(entry, "chart", where, path, cluster)
            if "/" in chart:
                raise RenderError(
                    "the chart's name in the repository", path=path, field=f"{where}.chart", cluster=cluster
                )
        release = entry.get("release", posixpath.basename(chart))
        ns = entry.get("namespace", namespace)
        for name, value in (("release", release), ("namespace", ns)):
            if not isinstance(value, str) or not value:
                raise RenderError("must be a non-empty string", path=path, field=f"{where}.{name}", cluster=cluster)
        crds = entry.get("includeCRDs", True)
        if not isinstance(crds, bool):
            raise RenderError("must be true or false", path=path, field=f"{where}.includeCRDs", cluster=cluster)
        values = entry.get("values") or {}
        if not isinstance(values, dict):
            raise RenderError("must be a mapping", path=path, field=f"{where}.values", cluster=cluster)
        found.append(HelmSource(chart, release, ns, crds, values, repo or "", version or ""))
    for index, entry in enumerate(_entries(data, "kustomize", path, cluster)):
        where = f"kustomize[{index}]"
        _known(entry, KUSTOMIZE_FIELDS, where, path, cluster)
        target = _inside(directory, _string(entry, "path", where, path, cluster), f"{where}.path", path, cluster)
        found.append(KustomizeSource(target))
    return found


def _entries(data: dict[str, Any], key: str, path: str, cluster: str) -> list[dict[str, Any]]:
    entries = data.get(key) or []
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise RenderError("must be a list of mappings", path=path, field=key, cluster=cluster)
    return entries


def _known(entry: dict[str, Any], known: set[str], where: str, path: str, cluster: str) -> None:
    unknown = sorted(str(k) for k in entry if k not in known)
    if unknown:
        fields = ", ".join(sorted(known))
        raise RenderError(f"unknown field; known: {fields}", path=path, field=f"{where}.{unknown[0]}", cluster=cluster)


def _string(entry: dict[str, Any], key: str, where: str, path: str, cluster: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise RenderError("required (a path relative to this file)", path=path, field=f"{where}.{key}", cluster=cluster)
    return value.strip()


def _inside(directory: str, relative: str, fld: str, path: str, cluster: str) -> str:
    """``relative`` joined to ``directory``: it must stay inside overlays/ (no absolute path, no escape)."""
    joined = posixpath.normpath(posixpath.join(directory, relative))
    if relative.startswith("/") or not joined.startswith(OVERLAYS + "/") or "://" in relative:
        raise RenderError(f"{relative!r} is not a directory of {OVERLAYS}/", path=path, field=fld, cluster=cluster)
    return joined


# ---- running the sources ------------------------------------------------------------------------------


class SourceRunner:
    """Runs sources with the tools, caching their output by exact inputs (one per render worker)."""

    def __init__(self, tools: Tools) -> None:
        self.tools = tools
        self._cache: OrderedDict[str, str] = OrderedDict()
        self._writes = 0
        self._packages: dict[tuple[str, str, str], bytes] = {}  # (repo, chart, version) -> verified package
        self._trees: OrderedDict[tuple[int, str], tuple[Snapshot, dict[str, bytes], bytes]] = OrderedDict()

    def produce(
        self,
        source: HelmSource | KustomizeSource,
        snapshot: Snapshot,
        *,
        path: str,
        cluster: str,
        kube_version: str,
    ) -> Produced:
        if isinstance(source, HelmSource):
            text = self._helm(source, snapshot, path=path, cluster=cluster, kube_version=kube_version)
            what = f"helm chart {source.chart}" + (f" {source.version} from {source.repo}" if source.repo else "")
        else:
            text = self._kustomize(source, snapshot, path=path, cluster=cluster)
            what = f"kustomization {source.path}"
        objects, notes = [], []
        kustomized = isinstance(source, KustomizeSource)
        docs = load_all(
            text, path, cluster=cluster, what=f" in the output of {what}", error=RenderError, go_emitted=kustomized
        )
        for doc in docs:
            if doc is None:
                continue
            if not isinstance(doc, dict):
                raise RenderError(f"{what} produced a {type(doc).__name__}, not an object", path=path, cluster=cluster)
            meta = doc.get("metadata")
            annotations = meta.get("annotations") if isinstance(meta, dict) else None
            hook = annotations.get(HOOK_ANNOTATION) if isinstance(annotations, dict) else None
            if hook and isinstance(meta, dict):
                name = meta.get("name")
                notes.append(f"{path}: {what}: hook {doc.get('kind')}/{name} ({hook}) left out: hooks are not applied")
                continue
            objects.append(doc)
        return Produced(objects, notes)

    def _helm(self, source: HelmSource, snapshot: Snapshot, *, path: str, cluster: str, kube_version: str) -> str:
        if not self.tools.helm:
            raise RenderError(
                "helm is not available: run `fleet lab build`, or set helmPath in the hub config",
                path=path,
                cluster=cluster,
            )
        if source.repo:
            wanted = (source.repo, source.chart, source.version)
            if wanted not in self._packages:
                # Once per worker and version: an exact version with a verified digest does not change.
                self._packages[wanted] = fetch_chart(
                    repo=source.repo,
                    name=source.chart,
                    version=source.version,
                    repositories=self.tools.chart_repositories,
                    cache=Path(self.tools.chart_cache),
                    path=path,
                    cluster=cluster,
                )
                while len(self._packages) > PACKAGES_KEPT:
                    self._packages.pop(next(iter(self._packages)))
            files, chart = {"chart.tgz": self._packages[wanted]}, "chart.tgz"
            tree = files_digest(files)
        else:
            (files, tree), chart = self._tree(snapshot, source.chart), source.chart
            if not any(p.endswith("/Chart.yaml") and p.count("/") == chart.count("/") + 1 for p in files):
                raise RenderError(f"{chart}/Chart.yaml missing: not a chart", path=path, cluster=cluster)
        values = yaml.safe_dump(json.loads(json.dumps(dict(source.values), default=str)), sort_keys=True)
        command = ["template", source.release, f"tree/{chart}", "--namespace", source.namespace]
        command += ["--values", "values.yaml"]
        if source.include_crds:
            command.append("--include-crds")
        if kube_version:
            command += ["--kube-version", kube_version]

        def run() -> str:
            with workdir(files) as root:
                (root / "values.yaml").write_text(values)
                argv = [self.tools.helm, *command]
                return run_tool(argv, root=root, cwd=root, what="helm template", path=path, cluster=cluster)

        return self.cached(tool_key(self.tools.helm, command, tree, values.encode()), run)

    def _kustomize(self, source: KustomizeSource, snapshot: Snapshot, *, path: str, cluster: str) -> str:
        if not self.tools.kubectl:
            raise RenderError(
                "kustomize is not available: run `fleet lab build`, or set kubectlPath in the hub config",
                path=path,
                cluster=cluster,
            )
        if not any(snapshot.exists(f"{source.path}/{name}") for name in KUSTOMIZATION_FILES):
            raise RenderError(f"{source.path}/kustomization.yaml missing", path=path, cluster=cluster)
        files, tree = self._tree(snapshot, OVERLAYS)  # a kustomization may use ../base: all of overlays/
        command = ["kustomize", f"tree/{source.path}"]

        def run() -> str:
            # Checked only when kustomize is to run: a cached output's inputs passed this check already.
            for name, content in files.items():
                if posixpath.basename(name) in KUSTOMIZATION_FILES:
                    _refuse_remote(name, content, cluster)
            with workdir(files) as root:
                argv = [self.tools.kubectl, *command]
                return run_tool(argv, root=root, cwd=root, what="kustomize build", path=path, cluster=cluster)

        return self.cached(tool_key(self.tools.kubectl, command, tree, b""), run)

    def _tree(self, snapshot: Snapshot, directory: str) -> tuple[dict[str, bytes], bytes]:
        """The files below ``directory`` and their digest, read and hashed once per snapshot: every cluster
        of a revision renders from the same snapshot object. The snapshot is kept with its entry, so that
        its id cannot be reused while the entry lives."""
        memo = (id(snapshot), directory)
        found = self._trees.get(memo)
        if found is None or found[0] is not snapshot:
            files = _subtree(snapshot, directory)
            found = (snapshot, files, files_digest(files))
            self._trees[memo] = found
            while len(self._trees) > TREES_KEPT:
                self._trees.popitem(last=False)
        return found[1], found[2]

    def cached(self, key: str, run: Callable[[], str]) -> str:
        """The output for ``key``: from this worker's memory, else from the directory the workers of this
        process share (a cluster rendered by another worker last time), else from running the tool."""
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        shared = Path(self.tools.shared_cache) / f"{key}.yaml" if self.tools.shared_cache else None
        try:
            text = shared.read_text() if shared is not None else None
        except OSError:
            text = None
        if text is None:
            text = run()
            if shared is not None:
                self._share(shared, text)
        self._cache[key] = text
        while len(self._cache) > CACHE_ENTRIES:
            self._cache.popitem(last=False)
        return text

    def _share(self, target: Path, text: str) -> None:
        with contextlib.suppress(OSError):
            partial = target.with_name(f".{target.name}.{os.getpid()}")
            partial.write_text(text)
            os.replace(partial, target)  # whole or absent, never half-written for another worker
            self._writes += 1
            if self._writes % 64 == 0:
                entries = sorted(target.parent.glob("*.yaml"), key=lambda p: p.stat().st_mtime)
                for old in entries[: max(0, len(entries) - SHARED_ENTRIES)]:
                    old.unlink(missing_ok=True)


def _subtree(snapshot: Snapshot, directory: str) -> dict[str, bytes]:
    prefix = directory.rstrip("/") + "/"
    return {p: snapshot.read(p) for p in snapshot.files if p.startswith(prefix)}


def files_digest(files: Mapping[str, bytes]) -> bytes:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return digest.digest()


def tool_key(tool: str, command: list[str], tree: bytes, extra: bytes) -> str:
    digest = hashlib.sha256()
    stat = Path(tool).stat() if Path(tool).exists() else None
    digest.update(f"{tool}\0{stat.st_size if stat else 0}\0{stat.st_mtime_ns if stat else 0}\0".encode())
    digest.update("\0".join(command).encode())
    digest.update(tree)
    digest.update(extra)
    return digest.hexdigest()


def _refuse_remote(name: str, content: bytes, cluster: str) -> None:
    """A kustomization may only use files of the repository: remote bases (Git URLs, HTTP) are refused
    here, by name, before kustomize runs (which has no network anyway)."""
    try:
        data = yaml.safe_load(content)
    except yaml.YAMLError:
        return  # kustomize reports the syntax error itself, with its line
    if not isinstance(data, dict):
        return
    for fld in _REFERENCE_FIELDS:
        for entry in data.get(fld) or []:
            if isinstance(entry, str) and any(marker in entry for marker in _REMOTE_MARKERS):
                raise RenderError(
                    f"remote {fld} entry {entry!r}: fleet renders only what is in the repository",
                    path=name,
                    field=fld,
                    cluster=cluster,
                )
    if data.get("helmCharts") or data.get("helmChartInflationGenerator"):
        raise RenderError(
            "helmCharts in a kustomization are not rendered: declare the chart in sources.yaml",
            path=name,
            field="helmCharts",
            cluster=cluster,
        )


_runners: dict[Tools, SourceRunner] = {}


def runner_for(tools: Tools) -> SourceRunner:
    """The runner (and so the cache) of this process for ``tools``."""
    if tools not in _runners:
        _runners[tools] = SourceRunner(tools)
    return _runners[tools]
