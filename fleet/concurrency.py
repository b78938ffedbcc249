"""Running coroutines side by side with one error, not a group of them.

``asyncio.TaskGroup`` raises an ``ExceptionGroup`` when tasks fail: four requests to a cluster that went
away give a group of four. Callers handle fleet's own error types (``except ClusterError``), so the
first failure is raised as itself, and the others, being the same cause, are dropped with the cancelled
siblings.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from typing import TypeVar

T = TypeVar("T")


async def run_all(coroutines: Iterable[Awaitable[T]]) -> list[T]:
    """Every coroutine at once; their results in order, or the first failure raised as itself."""
    try:
        async with asyncio.TaskGroup() as tasks:
            futures = [tasks.create_task(_wrap(c)) for c in coroutines]
    except BaseExceptionGroup as group:
        raise first_failure(group) from None
    return [f.result() for f in futures]


async def _wrap(awaitable: Awaitable[T]) -> T:
    return await awaitable


def first_failure(group: BaseExceptionGroup) -> BaseException:
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc
