"""Running coroutines side by side with one error, not a group of them; and stopping tasks for sure.

Four requests to a cluster that went away fail four times; callers handle fleet's own error types
(``except ClusterError``), so the first failure is raised as itself (never as an ``ExceptionGroup``), and
the others, being the same cause, are dropped with the cancelled siblings.

Cancellation must never be lost. A request cancelled mid-flight can surface as another error (aiohttp
and its timeouts turn a cancelled read into a connection or timeout error; a TaskGroup whose children
failed while being cancelled raises their errors, not the cancellation), and a loop that retries on
errors would then run on after it was told to stop: the hub's ``stop`` would wait forever. Code that
catches broad errors asks ``cancelling()`` and stops; ``stop_task`` cancels until the task has ended.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Iterable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


async def run_all(coroutines: Iterable[Awaitable[T]]) -> list[T]:
    """Every coroutine at once; their results in order, or the first failure (in the order given) raised
    as itself, the others cancelled. A cancellation of the caller stays a cancellation, whatever the
    children raise while they stop. (Not a TaskGroup: Python 3.11's leaves the caller marked as
    cancelling after a child failed, which would make ``cancelling()`` lie.)"""
    tasks = [asyncio.ensure_future(c) for c in coroutines]
    if not tasks:
        return []
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    except asyncio.CancelledError:
        await _cancel_all(tasks)
        raise
    failed = next((t for t in tasks if t.done() and not t.cancelled() and t.exception() is not None), None)
    if failed is not None:
        await _cancel_all(tasks)
        error = failed.exception()
        assert error is not None
        raise error
    return [t.result() for t in tasks]


async def _cancel_all(tasks: Sequence[asyncio.Future[Any]]) -> None:
    for task in tasks:
        task.cancel()
    # Their errors while stopping are the same cause as the one being raised: retrieved and dropped.
    await asyncio.gather(*tasks, return_exceptions=True)


def cancelling() -> bool:
    """Whether the running task has been asked to stop (its CancelledError may have been turned into
    another error on the way up)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def stop_task(task: asyncio.Task[Any], *, patience: float = 5.0) -> None:
    """Cancel ``task`` and wait until it has ended, cancelling again if it swallowed a cancellation."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=patience)
    if not task.cancelled():
        with contextlib.suppress(BaseException):
            task.result()  # retrieved, so that asyncio does not log it as never retrieved
