from __future__ import annotations

import asyncio

import pytest

from fleet.concurrency import run_all
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
