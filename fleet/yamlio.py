"""YAML reading with errors that name the file and line, and rejection of duplicate keys.

PyYAML's C parser is used where available: rendering a large fleet parses a lot of YAML.
"""

from __future__ import annotations

from typing import Any

import yaml

from fleet.errors import InputError

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class StrictLoader(_Base):  # type: ignore[misc]
    """SafeLoader that refuses a mapping with the same key twice (YAML says it is an error)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:
                continue  # unhashable key: construct_mapping below reports it
            if duplicate:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]


def _error(exc: yaml.YAMLError, path: str, *, cluster: str | None, what: str, error: type[InputError]) -> InputError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    detail = f"invalid YAML{what}: {problem}" + (f" ({context})" if context else "")
    return error(detail, path=path, line=mark.line + 1 if mark else None, cluster=cluster)


def load_one(
    text: str, path: str, *, cluster: str | None = None, what: str = "", error: type[InputError] = InputError
) -> Any:
    try:
        return yaml.load(text, Loader=StrictLoader)
    except yaml.YAMLError as exc:
        raise _error(exc, path, cluster=cluster, what=what, error=error) from None
    except RecursionError:
        raise error("YAML nested too deeply", path=path, cluster=cluster) from None


def load_all(
    text: str, path: str, *, cluster: str | None = None, what: str = "", error: type[InputError] = InputError
) -> list[Any]:
    try:
        return list(yaml.load_all(text, Loader=StrictLoader))
    except yaml.YAMLError as exc:
        raise _error(exc, path, cluster=cluster, what=what, error=error) from None
    except RecursionError:
        raise error("YAML nested too deeply", path=path, cluster=cluster) from None


def document_lines(text: str) -> list[int]:
    """1-based start line of each document in a stream (used only to point at a bad document)."""
    try:
        return [
            node.start_mark.line + 1 if node is not None else 0
            for node in yaml.compose_all(text, Loader=yaml.SafeLoader)
        ]
    except yaml.YAMLError:
        return []


def key_lines(text: str) -> dict[str, int]:
    """1-based line of each top-level key of a single mapping document (for field errors)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return {}
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {str(k.value): k.start_mark.line + 1 for k, _ in node.value}
