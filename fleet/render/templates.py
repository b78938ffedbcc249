"""Compiled templates of one snapshot, and the translation of template failures into RenderErrors that
name the file, the line and the cluster."""

from __future__ import annotations

import traceback
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError

from fleet.errors import RenderError
from fleet.render.sandbox import OutputTooLarge, make_environment, render_bounded
from fleet.repo.source import Snapshot


def _template_line(exc: BaseException, path: str) -> int | None:
    """The line in ``path`` where rendering failed: jinja2 rewrites tracebacks to template lines."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == path or frame.filename.endswith("/" + path):
            line = frame.lineno
    return line


class TemplateSet:
    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.environment = make_environment(snapshot)
        self._compiled: dict[str, jinja2.Template] = {}

    def template(self, path: str) -> jinja2.Template:
        compiled = self._compiled.get(path)
        if compiled is None:
            try:
                compiled = self.environment.from_string(self.snapshot.text(path))
                compiled.name = path
                compiled.filename = path
            except jinja2.TemplateSyntaxError as exc:
                raise RenderError(f"template syntax error: {exc.message}", path=path, line=exc.lineno) from None
            except RecursionError:
                raise RenderError("template nested too deeply", path=path) from None
            self._compiled[path] = compiled
        return compiled

    def forget_state(self) -> None:
        """Drop the modules imported templates keep (``{% import %}`` caches them, with any namespace()
        a template changed), so that one cluster's render never sees another's state."""
        for template in list(self.environment.cache.values()) if self.environment.cache else []:
            template._module = None

    def render(self, path: str, context: dict[str, Any], *, cluster: str) -> str:
        template = self.template(path)
        try:
            return render_bounded(template, context)
        except jinja2.TemplateSyntaxError as exc:  # in an included template
            where = exc.filename or exc.name or path
            raise RenderError(
                f"template syntax error: {exc.message}", path=where, line=exc.lineno, cluster=cluster
            ) from None
        except Exception as exc:  # anything a template expression raises: TypeError, ZeroDivisionError, ...
            raise RenderError(_describe(exc), path=path, line=_template_line(exc, path), cluster=cluster) from None


def _describe(exc: Exception) -> str:
    if isinstance(exc, jinja2.UndefinedError):
        return f"undefined variable: {exc.message}"
    if isinstance(exc, SecurityError):
        return f"not allowed in the template sandbox: {exc}"
    if isinstance(exc, OutputTooLarge):
        return str(exc)
    if isinstance(exc, jinja2.TemplateNotFound):
        return f"include not found or outside overlays/: {exc.message or exc.name}"
    if isinstance(exc, RecursionError):
        return "template recursion too deep"
    if isinstance(exc, MemoryError):
        return "template used too much memory"
    return f"template error: {type(exc).__name__}: {exc}"
