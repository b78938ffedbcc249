"""A version number of what the hub shows (reports, revision, Git error, rollouts) that listeners can wait
on: the dashboard's event stream tells open pages to refresh when it moves, and only then."""

from __future__ import annotations

import asyncio
import contextlib


class Changes:
    def __init__(self) -> None:
        self.version = 0
        self._moved = asyncio.Event()

    def bump(self) -> None:
        self.version += 1
        self._moved.set()
        self._moved = asyncio.Event()  # waiters hold the old, set event; new waiters get a fresh one

    async def wait(self, after: int, timeout: float) -> int:
        """The version once it is past ``after``, or the current one after ``timeout`` seconds."""
        if self.version > after:
            return self.version
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._moved.wait(), timeout)
        return self.version
