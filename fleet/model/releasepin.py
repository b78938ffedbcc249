"""The release pin format, parsed in one place: ``overlays/<env>/release.yaml``.

    revision: 1a2b3c4d5e6f    # the revision of overlays/base the env runs (a sha, a tag, or HEAD)
    values: {image: {tag: "1.1.0"}}   # values promoted into the env, merged over everything else
    promotion: {...}          # written by `fleet promote` / `fleet rollback`: informational

Part of the leaf models: the renderer, promotion and the hub's rollouts all read pins through it, with the
same rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fleet.errors import RenderError
from fleet.yamlio import load_one

FIELDS = ("revision", "values", "promotion")


@dataclass(frozen=True)
class ReleasePin:
    revision: str = "HEAD"
    values: dict[str, Any] = field(default_factory=dict)


def pin_from_mapping(data: Any, path: str) -> ReleasePin:
    """A pin from an already parsed document (None: the file is empty or missing)."""
    if data is None:
        return ReleasePin()
    if not isinstance(data, dict):
        raise RenderError("must be a mapping (revision, values)", path=path)
    unknown = sorted((str(k) for k in data if k not in FIELDS), key=str)
    if unknown:
        raise RenderError(f"unknown field; known: {', '.join(FIELDS)}", path=path, field=unknown[0])
    revision = data.get("revision")
    if revision is None:
        revision = "HEAD"
    if not isinstance(revision, str) or len(revision) > 256 or any(c.isspace() for c in revision.strip()):
        raise RenderError(
            "must be a Git revision (a sha, tag or HEAD), quoted if it is all digits", path=path, field="revision"
        )
    values = data.get("values")
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise RenderError("must be a mapping", path=path, field="values")
    return ReleasePin(revision.strip() or "HEAD", values)


def parse_pin(text: str | bytes, path: str) -> ReleasePin:
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RenderError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", path=path) from None
    return pin_from_mapping(load_one(text, path, error=RenderError), path)
