"""The template environment: jinja2's sandbox, StrictUndefined, includes confined to overlays/, and
bounds on output size, string/list growth, exponentiation and recursion.

Templates come from Git, that is from anyone who can open a pull request: nothing they do may reach the
hub's files, Python internals or unbounded memory.
"""

from __future__ import annotations

import base64
import json
import posixpath
from collections.abc import Callable
from typing import Any

import jinja2
import yaml
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from fleet.repo.source import Snapshot

MAX_OUTPUT_CHARS = 8 * 1024 * 1024  # one rendered file
MAX_SEQUENCE = 1024 * 1024  # result of `*` on strings and lists
MAX_EXPONENT = 1000


class OutputTooLarge(Exception):
    pass


class SnapshotLoader(jinja2.BaseLoader):
    """Loads templates from the snapshot, only below ``overlays/``; names are repo-relative paths
    or paths relative to ``overlays/``."""

    def __init__(self, snapshot: Snapshot, root: str = "overlays") -> None:
        self.snapshot = snapshot
        self.root = root

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        normal = posixpath.normpath(template)
        if normal.startswith("/") or normal.split("/", 1)[0] == "..":
            raise jinja2.TemplateNotFound(f"{template} (outside {self.root}/)")
        candidates = [normal] if normal.startswith(self.root + "/") else [f"{self.root}/{normal}"]
        for name in candidates:
            if not name.startswith(self.root + "/") or ".." in name.split("/"):
                continue
            if self.snapshot.exists(name):
                return self.snapshot.text(name), name, lambda: True
        raise jinja2.TemplateNotFound(template)


class FleetSandbox(ImmutableSandboxedEnvironment):
    """Immutable: a template cannot change ``values`` (or any list or dict it did not make) for the files
    and clusters rendered after it, nor grow a list while iterating over it."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            if isinstance(right, (int, float)) and abs(right) > MAX_EXPONENT:
                raise SecurityError(f"exponent {right} is over the limit of {MAX_EXPONENT}")
            return left**right
        sequence, count = (left, right) if isinstance(right, int) else (right, left)
        if isinstance(sequence, (str, list, tuple)) and isinstance(count, int) and len(sequence) * count > MAX_SEQUENCE:
            raise SecurityError(f"repetition to {len(sequence) * count} items is over the limit of {MAX_SEQUENCE}")
        return left * right


def _to_yaml(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=True, default_flow_style=False).rstrip("\n")


def _b64encode(value: Any) -> str:
    return base64.b64encode(str(value).encode()).decode()


def make_environment(snapshot: Snapshot) -> FleetSandbox:
    env = FleetSandbox(
        loader=SnapshotLoader(snapshot),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        auto_reload=False,
        cache_size=-1,
    )
    env.filters.update(
        to_yaml=_to_yaml,
        to_json=lambda v: json.dumps(v, sort_keys=True),
        b64encode=_b64encode,
        quote=lambda v: json.dumps(str(v)),
    )
    return env


def render_bounded(template: jinja2.Template, context: dict[str, Any], limit: int = MAX_OUTPUT_CHARS) -> str:
    """Render chunk by chunk and stop as soon as the output passes ``limit`` characters."""
    size = 0
    chunks = []
    for chunk in template.generate(context):
        size += len(chunk)
        if size > limit:
            raise OutputTooLarge(f"rendered output is over the limit of {limit} characters")
        chunks.append(chunk)
    return "".join(chunks)
