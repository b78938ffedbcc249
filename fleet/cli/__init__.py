"""The `fleet` command line. Each verb lives in a module of this package; this module holds the root
group, the error boundary (a user sees a message and an exit code, never a traceback) and the only
``asyncio.run`` of the project."""

from __future__ import annotations

import asyncio
import os
import sys
import traceback
from collections.abc import Coroutine
from typing import Any, TypeVar

import click

from fleet import __version__
from fleet.errors import FleetError
from fleet.runtime import tune_garbage_collector

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


class FleetGroup(click.Group):
    """Turns fleet's own errors into `error: ...` and the error's exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FleetError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:  # a bug in fleet, not the user's input: one line, the traceback on request
            if os.environ.get("FLEET_DEBUG"):
                raise
            # The exception's text is left out: it could hold a value from a cluster or a Secret.
            click.echo(
                f"error: internal error ({type(exc).__name__} at {_where(exc)}); this is a bug in fleet: "
                "set FLEET_DEBUG=1 for the traceback and report it",
                err=True,
            )
            ctx.exit(70)


def _where(exc: BaseException) -> str:
    """The innermost frame of fleet's own code, as path:line."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f"{os.sep}fleet{os.sep}" in f.filename]
    if not frames:
        return "?"
    name = frames[-1].filename
    return f"{name[name.rfind(os.sep + 'fleet' + os.sep) + 1 :]}:{frames[-1].lineno}"


@click.group(cls=FleetGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fleet")
def cli() -> None:
    """fleet: a multi-cluster GitOps fleet manager.

    One Git repository describes every cluster (clusters/) and what it runs (overlays/); fleet renders,
    applies and watches it across the whole fleet.
    """


def _register() -> None:
    from fleet.cli import clusters, hub, lab, promote, render, status, sync

    cli.add_command(lab.lab)
    cli.add_command(clusters.clusters)
    cli.add_command(render.render)
    cli.add_command(sync.sync)
    cli.add_command(sync.plan)
    cli.add_command(status.status)
    cli.add_command(status.drift)
    cli.add_command(promote.promote)
    cli.add_command(promote.history_command)
    cli.add_command(promote.rollback)
    cli.add_command(hub.hub)


_register()


def main() -> None:
    tune_garbage_collector()
    cli(prog_name="fleet")


if __name__ == "__main__":
    main()
    sys.exit(0)
