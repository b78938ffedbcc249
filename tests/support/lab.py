"""Test support: a real lab for the test session, and kubernetes_asyncio clients for its clusters.

Used by tests/lab/conftest.py. Nothing here fakes the Kubernetes API: every client talks to a real
kube-apiserver that the lab started.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest
from kubernetes_asyncio import client

from fleet.kube.client import api_client
from fleet.lab.local import ClusterEndpoint, LocalLab
from fleet.lab.topology import ClusterSpec, load_topology

T = TypeVar("T")
KIND_CONFIG = Path(__file__).resolve().parents[2] / "kind-config"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def lab_unavailable(reason: str) -> None:
    """In CI a lab that cannot start fails the test; elsewhere the test is skipped with the reason."""
    if in_ci():
        pytest.fail(f"the lab is required in CI and could not start: {reason}", pytrace=False)
    pytest.skip(f"lab not available: {reason} (run `fleet lab build`)")


def example_topology() -> list[ClusterSpec]:
    """One lab cluster per cluster of the example fleet (kind-config/)."""
    return load_topology(KIND_CONFIG, None)


class LabSession:
    """A lab started for the duration of a test session."""

    def __init__(self, root: Path, specs: list[ClusterSpec]) -> None:
        self.lab = LocalLab(root)
        self.specs = specs
        self.endpoints: dict[str, ClusterEndpoint] = {}
        self.startup_seconds = 0.0

    def start(self) -> None:
        started = time.monotonic()
        self.endpoints = {e.name: e for e in asyncio.run(self.lab.up(self.specs, log=lambda _m: None))}
        self.startup_seconds = time.monotonic() - started

    def stop(self) -> None:
        self.lab.down()

    def kubeconfig(self, cluster: str) -> Path:
        return self.endpoints[cluster].kubeconfig

    @contextlib.asynccontextmanager
    async def api(self, cluster: str) -> AsyncIterator[client.ApiClient]:
        api = await api_client(self.kubeconfig(cluster), cluster)
        try:
            yield api
        finally:
            await api.close()


async def wait_for(
    predicate: Callable[[], Awaitable[T]], *, timeout: float, interval: float = 0.25, what: str = "condition"
) -> T:
    """Poll an async predicate until it returns a truthy value; that value is returned."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = await predicate()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"{what} not reached within {timeout:.0f}s (last: {last!r})")
