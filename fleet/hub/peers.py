"""The other replicas' reports, so that any replica serves the whole fleet.

Peers are found through their member Leases (fleet.hub.shards), which carry their HTTP address. For each
live peer one long-poll request is kept open on ``GET /api/v1/shard?since=V``: the peer answers at once
when its reports changed since version V, else after ``WAIT`` seconds. So a change on one replica reaches
the others within one round trip, an idle fleet costs one small request per peer every ``WAIT`` seconds,
and a peer that died (its Lease gone) is forgotten together with its reports.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import aiohttp

from fleet.concurrency import stop_task
from fleet.hub.log import EventLog
from fleet.model.health import Code, Health
from fleet.model.report import ClusterReport, cluster_from_dict, iso

WAIT = 25.0  # seconds a peer holds a long-poll open
RETRY = 1.0  # seconds before asking an unreachable peer again
ORPHANED = 120.0  # seconds a dead peer's clusters stay in the report, marked, unless someone reports them
FORWARD_TIMEOUT = aiohttp.ClientTimeout(total=10)
FORWARDED = "X-Fleet-Forwarded"  # a sync request one replica passed on to the others (not passed on again)


class PeerReports:
    def __init__(self, identity: str, *, on_change: Callable[[], None], log: EventLog) -> None:
        self.identity = identity
        self.on_change = on_change
        self.log = log
        self.reports: dict[str, dict[str, ClusterReport]] = {}  # peer -> cluster -> report
        self.errors: dict[str, str] = {}  # peer -> since when it does not answer (its reports are stale)
        self._tasks: dict[str, tuple[str, asyncio.Task[None]]] = {}
        self._orphans: dict[str, tuple[ClusterReport, float]] = {}  # cluster -> (marked report, kept until)
        self._session: aiohttp.ClientSession | None = None

    def all(self) -> dict[str, ClusterReport]:
        now = time.monotonic()
        self._orphans = {n: (r, until) for n, (r, until) in self._orphans.items() if until > now}
        merged: dict[str, ClusterReport] = {n: r for n, (r, _until) in self._orphans.items()}
        for member, reports in self.reports.items():
            since = self.errors.get(member)
            if since is None:
                merged.update(reports)
                continue
            # Its last reports, marked: the replica is not answering (dead, or cut off) since ``since``.
            message = f"its hub replica {member} does not answer; its last report is shown"
            merged.update({name: _marked(report, message, since) for name, report in reports.items()})
        return merged

    def _orphan(self, member: str, reports: dict[str, ClusterReport]) -> None:
        """A peer that died leaves its clusters in the report, marked, until another replica reports them
        (or ORPHANED seconds, for a cluster that also left the registry)."""
        message = f"its hub replica {member} is gone; another replica takes it over once its Lease expires"
        since = iso(time.time())
        until = time.monotonic() + ORPHANED
        for name, report in reports.items():
            self._orphans[name] = (_marked(report, message, since), until)

    async def follow(self, members: Mapping[str, str]) -> None:
        """Follow exactly the live peers in ``members`` (identity -> address)."""
        peers = {m: a for m, a in members.items() if m != self.identity and a}
        for member in list(self._tasks):
            address, task = self._tasks[member]
            if peers.get(member) != address:
                del self._tasks[member]
                await stop_task(task)
                gone = self.reports.pop(member, None)
                if gone:
                    self._orphan(member, gone)
                    self.on_change()
                self.errors.pop(member, None)
        for member, address in peers.items():
            if member not in self._tasks:
                task = asyncio.create_task(self._follow(member, address), name=f"peer {member}")
                self._tasks[member] = (address, task)

    async def forward_sync(self, body: dict[str, Any], authorization: str) -> tuple[list[str], list[str]]:
        """``POST /api/v1/sync`` passed on to every live peer: (clusters they triggered, peers not reached)."""
        session = self._client()
        headers = {"Authorization": authorization, FORWARDED: "1"}

        async def one(member: str, address: str) -> tuple[str, list[str] | None]:
            try:
                url = f"{address.rstrip('/')}/api/v1/sync"
                async with session.post(url, json=body, headers=headers, timeout=FORWARD_TIMEOUT) as response:
                    if response.status != 202:
                        return member, None
                    answer = await response.json(content_type=None)
                return member, [str(n) for n in answer.get("triggered") or []]
            except (aiohttp.ClientError, TimeoutError, ValueError, AttributeError):
                return member, None

        results = await asyncio.gather(*(one(m, a) for m, (a, _task) in self._tasks.items()))
        triggered = sorted({n for _m, names in results for n in names or []})
        return triggered, sorted(m for m, names in results if names is None)

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=WAIT + 10), trust_env=False)
        return self._session

    async def close(self) -> None:
        for _address, task in self._tasks.values():
            await stop_task(task)
        self._tasks.clear()
        if self._session is not None:
            await self._session.close()

    async def _follow(self, member: str, address: str) -> None:
        session = self._client()
        version = -1
        while True:
            try:
                url = f"{address.rstrip('/')}/api/v1/shard"
                async with session.get(url, params={"since": str(version), "wait": str(WAIT)}) as response:
                    if response.status != 200:
                        raise ValueError(f"answered {response.status}")
                    body: Any = await response.json(content_type=None)
                version = self._store(member, body)
                if self.errors.pop(member, None) is not None:
                    self.on_change()
            except asyncio.CancelledError:
                raise
            except (aiohttp.ClientError, TimeoutError, ValueError, KeyError, TypeError) as exc:
                if member not in self.errors:
                    self.log("peer_error", peer=member, error=f"{type(exc).__name__}: {exc}"[:200])
                    self.errors[member] = iso(time.time()) or ""
                    self.on_change()
                await asyncio.sleep(RETRY)

    def _store(self, member: str, body: Any) -> int:
        if not isinstance(body, dict) or body.get("identity") != member:
            raise ValueError("not a shard report of that replica")
        reports = {c["name"]: cluster_from_dict(c) for c in body["clusters"]}
        for name in reports:
            self._orphans.pop(name, None)
        if reports != self.reports.get(member):
            self.reports[member] = reports
            self.on_change()
        return int(body["version"])


def _marked(report: ClusterReport, message: str, since: str | None) -> ClusterReport:
    """A peer's report shown with why it may be out of date, and since when."""
    return replace(report, error=message, error_since=since, health=Health(Code.UNKNOWN, message))
