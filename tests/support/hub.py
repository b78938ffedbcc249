"""A hub with its HTTP API on a free loopback port, for tests (the hub's own tests, waves, and the
security tests of Git content)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import io
import socket
import time
from collections.abc import AsyncIterator, Callable

import aiohttp
from aiohttp import web

from fleet.config import FleetConfig
from fleet.hub.core import Hub, HubOptions
from fleet.hub.log import EventLog
from fleet.hub.server import make_app

SECRET = "webhook-secret-for-tests"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RunningHub:
    def __init__(self, hub: Hub, url: str, logs: io.StringIO) -> None:
        self.hub, self.url, self.logs = hub, url, logs

    async def wait(self, predicate: Callable[[Hub], bool], timeout: float, what: str) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if predicate(self.hub):
                return time.monotonic() - started
            await asyncio.sleep(0.05)
        reports = {n: (r.sync, r.health, r.error, len(r.drift), r.release) for n, r in self.hub.state.reports.items()}
        rollouts = [r.to_dict() for r in self.hub.rollouts.values()]
        raise AssertionError(f"{what} not within {timeout}s; reports: {reports}; rollouts: {rollouts}")

    async def webhook(self, body: bytes, headers: dict[str, str]) -> int:
        async with (
            aiohttp.ClientSession() as s,
            s.post(self.url + "/api/v1/webhooks/git", data=body, headers=headers) as r,
        ):
            return r.status


@contextlib.asynccontextmanager
async def serve_hub(options: HubOptions, config: FleetConfig, logs: io.StringIO) -> AsyncIterator[RunningHub]:
    """A hub with its HTTP API on a free loopback port, for the duration of a test."""
    hub = Hub(options, config, EventLog("json", logs))
    runner = web.AppRunner(make_app(hub))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await hub.start()
    try:
        yield RunningHub(hub, f"http://127.0.0.1:{port}", logs)
    finally:
        await hub.stop()
        await runner.cleanup()


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"X-Hub-Signature-256": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}
