"""This hub as one replica of several: the Leases it holds (fleet.hub.shards), the peers whose reports it
serves (fleet.hub.peers), and the cluster credentials it reads from Secrets (fleet.kube.secrets), all
through the management cluster. A hub without a management cluster has none of this and manages every
cluster of the registry itself."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fleet.concurrency import stop_task
from fleet.config import FleetConfig
from fleet.hub.log import EventLog
from fleet.hub.peers import PeerReports
from fleet.hub.shards import Shards, ShardSettings
from fleet.kube.api import ClusterApi
from fleet.kube.leases import LeaseStore
from fleet.kube.secrets import CredentialSource
from fleet.model.report import ClusterReport


@dataclass(frozen=True)
class Management:
    """The management cluster the replicas coordinate through, and this replica's settings."""

    api: ClusterApi
    namespace: str
    shards: ShardSettings


class Replication:
    def __init__(
        self,
        management: Management,
        config: FleetConfig,
        log: EventLog,
        *,
        on_held: Callable[[], Awaitable[None]],
        on_peers: Callable[[], None],
    ) -> None:
        async def held_changed(_held: frozenset[str]) -> None:
            await on_held()

        store = LeaseStore(management.api, management.namespace)
        self.shards = Shards(store, management.shards, on_change=held_changed, log=log)
        self.peers = PeerReports(management.shards.identity, on_change=on_peers, log=log)
        self.credentials = CredentialSource(management.api, management.namespace, config)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._coordinate(), name="coordination")

    async def stop(self) -> None:
        if self._task is not None:
            await stop_task(self._task)
        await self.shards.leave()  # loops stopped, Leases released: the others take over at once
        await self.peers.close()

    async def _coordinate(self) -> None:
        """The Lease loop, and following the peers it finds."""
        tick = asyncio.create_task(self.shards.run(), name="shards")
        try:
            while not tick.done():
                await self.peers.follow(self.shards.members)
                await asyncio.sleep(self.shards.settings.renew)
        finally:
            await stop_task(tick)

    def holds(self, cluster: str) -> bool:
        return cluster in self.shards.held

    def reports(self, own: dict[str, ClusterReport]) -> dict[str, ClusterReport]:
        """Every cluster's report: this replica's own, and its peers' for the clusters they hold."""
        return {**self.peers.all(), **own}

    def coordinates(self, name: str) -> bool:
        """Whether this replica is the one (by the clusters' hashing) to act on ``name`` for all of them."""
        return self.shards.owner_of(name) == self.shards.identity
