from __future__ import annotations

import asyncio
import contextlib

import pytest

from fleet.concurrency import cancelling, run_all, stop_task
from fleet.errors import TemporaryClusterError


async def test_results_come_in_order() -> None:
    async def value(n: int) -> int:
        await asyncio.sleep(0.01 * (3 - n))
        return n

    assert await run_all(value(n) for n in range(3)) == [0, 1, 2]


async def test_failures_are_raised_as_themselves_not_as_a_group() -> None:
    async def down(n: int) -> int:
        raise TemporaryClusterError("dev-1", f"request {n}: cannot connect")

    with pytest.raises(TemporaryClusterError, match="cannot connect"):
        await run_all(down(n) for n in range(4))


async def test_a_cancelled_caller_stays_cancelled_whatever_the_children_raise_while_stopping() -> None:
    # aiohttp can report a request cancelled mid-read as a connection error: the caller must still stop.
    async def request() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            raise OSError("connection reset while cancelling") from None

    caller = asyncio.create_task(run_all([request(), request()]))
    await asyncio.sleep(0.05)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller


async def test_stop_task_ends_a_loop_that_swallowed_its_cancellation() -> None:
    swallowed = 0

    async def stubborn_loop() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed += 1  # the first cancellation arrives as another error and is retried

    task = asyncio.create_task(stubborn_loop())
    await asyncio.sleep(0.01)
    await asyncio.wait_for(stop_task(task, patience=0.1), 5)
    assert task.cancelled() and swallowed == 1


async def test_a_loop_that_checks_cancelling_stops_after_a_swallowed_cancellation() -> None:
    async def checking_loop() -> None:
        while True:
            if cancelling():
                raise asyncio.CancelledError
            # A cancellation turned into an error and handled, as a retrying client would:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(10)

    task = asyncio.create_task(checking_loop())
    await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.wait_for(asyncio.wait({task}), 5)
    assert task.cancelled()
