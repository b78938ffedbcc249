"""Shaping rendered documents into Kubernetes objects: one mapping a document, identity checks (apiVersion,
kind, metadata.name, label and annotation types), the env's default namespace where a kind is namespaced,
and fleet's labels and annotations."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fleet.errors import RenderError
from fleet.model.cluster import Cluster
from fleet.model.objects import CLUSTER_SCOPED, split_api_version
from fleet.model.vocabulary import (
    CLUSTER_LABEL,
    ENV_LABEL,
    MANAGED_BY,
    MANAGED_BY_VALUE,
    REVISION_ANNOTATION,
    SOURCE_ANNOTATION,
)
from fleet.yamlio import ParsedTexts, document_lines, load_all


def documents(
    text: str, path: str, cluster: str, *, require_object: bool = True, cache: ParsedTexts | None = None
) -> list[tuple[dict[str, Any], int]]:
    """The non-empty documents of a rendered file, each with its 1-based index in the stream."""
    docs = load_all(text, path, cluster=cluster, what=" in rendered output", error=RenderError, cache=cache)
    result = []
    for index, doc in enumerate(docs):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise RenderError(
                f"document {index + 1} is a {type(doc).__name__}, not a mapping",
                path=path,
                line=document_line(text, index),
                cluster=cluster,
            )
        if require_object:
            try:
                check_object(doc, path, 0, cluster)
            except RenderError as exc:
                raise RenderError(
                    exc.detail, path=path, line=document_line(text, index), field=exc.field, cluster=cluster
                ) from None
        result.append((doc, index + 1))
    return result


def document_line(text: str, index: int) -> int | None:
    # Only on the error path: composing again is slow, and lines are not needed otherwise.
    lines = document_lines(text)
    return lines[index] if index < len(lines) and lines[index] else None


def check_object(obj: dict[str, Any], path: str, line: int, cluster: str) -> None:
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


def scopes_of_crds(objects: Any) -> dict[tuple[str, str], str]:
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


def default_namespace(obj: dict[str, Any], namespace: str, crd_scopes: Mapping[tuple[str, str], str]) -> None:
    meta = obj["metadata"]
    group = split_api_version(obj["apiVersion"])[0]
    if is_namespaced(group, obj["kind"], crd_scopes):
        if not meta.get("namespace"):
            meta["namespace"] = namespace
    else:
        meta.pop("namespace", None)


def label(obj: dict[str, Any], cluster: Cluster, revision: str, source: str) -> None:
    meta = obj["metadata"]
    labels = {k: _label_text(v) for k, v in (meta.get("labels") or {}).items()}
    labels.update({MANAGED_BY: MANAGED_BY_VALUE, CLUSTER_LABEL: cluster.name, ENV_LABEL: cluster.env})
    meta["labels"] = labels
    annotations = {k: _label_text(v) for k, v in (meta.get("annotations") or {}).items()}
    annotations.update({REVISION_ANNOTATION: revision, SOURCE_ANNOTATION: source})
    meta["annotations"] = annotations


def _label_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def with_namespace(obj: dict[str, Any], namespace: str, crd_scopes: Mapping[tuple[str, str], str]) -> dict[str, Any]:
    """A shallow view of ``obj`` with the namespace it will get, for matching patches before defaulting."""
    meta = obj.get("metadata") or {}
    if meta.get("namespace"):
        return obj
    group = split_api_version(str(obj.get("apiVersion", "")))[0]
    if not is_namespaced(group, str(obj.get("kind", "")), crd_scopes):
        return obj
    return {**obj, "metadata": {**meta, "namespace": namespace}}
