"""Options shared by the commands that read the fleet's repository."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import click

from fleet.config import FleetConfig
from fleet.model.cluster import Selection
from fleet.selector import parse_selector
from fleet.workflows.workspace import Workspace

F = TypeVar("F", bound=Callable[..., Any])


def selection_options(func: F) -> F:
    """``--cluster``, ``--env`` (repeatable or comma-separated) and ``--selector``."""

    @click.option("--cluster", "-c", "clusters", multiple=True, help="Cluster name (repeatable, or a,b,c).")
    @click.option("--env", "-e", "envs", multiple=True, help="Environment (repeatable, or dev,staging).")
    @click.option("--selector", "-l", "selector", default=None, help="Label selector: 'region=eu,wave in (1,2)'.")
    @functools.wraps(func)
    def wrapper(*args: Any, clusters: tuple[str, ...], envs: tuple[str, ...], selector: str | None, **kw: Any) -> Any:
        kw["selection"] = Selection(
            clusters=_split(clusters),
            envs=_split(envs),
            selector=parse_selector(selector) if selector else None,
        )
        return func(*args, **kw)

    return wrapper  # type: ignore[return-value]


def repo_options(func: F) -> F:
    """``--repo``, ``--ref``, ``--local`` and ``--config``: where the fleet's files come from."""

    @click.option(
        "--repo",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path("."),
        show_default=True,
        help="The fleet's Git repository (clusters/ and overlays/ at its top).",
    )
    @click.option("--ref", default="HEAD", show_default=True, help="Revision to read (branch, tag, sha).")
    @click.option("--local", is_flag=True, help="Read the working tree, uncommitted edits included.")
    @click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="The hub's own config (default: $FLEET_CONFIG or ~/.config/fleet/config.yaml).",
    )
    @functools.wraps(func)
    def wrapper(*args: Any, repo: Path, ref: str, local: bool, config_path: Path | None, **kw: Any) -> Any:
        if local and ref != "HEAD":
            raise click.UsageError("--local reads the working tree; it cannot be combined with --ref")
        if kw.get("hub"):
            kw["workspace"] = None  # the report comes from a hub: no repository or credentials needed here
        else:
            config = FleetConfig.load(config_path)
            kw["workspace"] = Workspace.open(repo, ref=ref, local=local, config=config)
        return func(*args, **kw)

    return wrapper  # type: ignore[return-value]


def _split(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(v.strip() for value in values for v in value.split(",") if v.strip())


class Duration(click.ParamType):  # type: ignore[type-arg]  # generic only since click 8.5
    """Seconds, or a number with s, m or h: ``90``, ``90s``, ``5m``, ``1h``."""

    name = "duration"
    UNITS: ClassVar[dict[str, float]] = {"s": 1.0, "m": 60.0, "h": 3600.0}

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, (int, float)):
            return float(value)
        text = str(value).strip()
        try:
            seconds = float(text[:-1]) * self.UNITS[text[-1]] if text and text[-1] in self.UNITS else float(text)
        except ValueError:
            self.fail(f"{value!r} is not a duration (examples: 90, 90s, 5m, 1h)", param, ctx)
        if seconds < 0:
            self.fail(f"{value!r} is negative", param, ctx)
        return seconds


DURATION = Duration()
