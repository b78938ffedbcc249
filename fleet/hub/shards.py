"""Sharding the fleet over the hub's replicas with Leases in the management cluster.

Two kinds of Lease, both in the hub's namespace:

- a **member** Lease per replica, renewed every ``renew`` seconds: the replica's heartbeat. Its
  annotation carries the replica's HTTP address, where peers read its reports.
- a **cluster** Lease per managed cluster: ``holderIdentity`` names the replica allowed to write to that
  cluster. It is written only when it changes hands, so an idle fleet of any size costs one write per
  replica per ``renew`` seconds, not one per cluster. A holder's claim is valid exactly as long as its
  member Lease is: that is what the others check before taking a cluster over.

Each replica computes the owner of every cluster by rendezvous hashing over the live members
(fleet.model.sharding), lets go of what it no longer owns (its loops stopped first, then the Lease
released), and takes what it owns once the previous holder has released it or is dead.

Liveness is judged on the observer's own clock, never by comparing timestamps written by another
machine: a member is dead when its Lease's resourceVersion has not changed for its ``leaseDurationSeconds``
since this replica first saw that version (client-go's leader election does the same).

Fencing. A replica writes to a cluster only while ``holds()`` is true: the cluster is in its held set and
its own member Lease is valid on its own clock (CLOCK_BOOTTIME: it counts a pause and a suspend), counted
from when the last successful renewal was *sent* and cut short by ``margin``. Another replica can take
the cluster only after seeing that member Lease unchanged for the full duration after it changed, which
is later. A replica paused (SIGSTOP, a long GC, a VM freeze) past its term finds on waking that its clock
has moved on: every write is refused before it is sent, its held set is dropped, and it must win each
cluster Lease again by a conditional write, which fails if anyone took it meanwhile. The one window left
is a pause between that check and the request leaving the socket (microseconds of Python between them);
Kubernetes offers no fencing token a write could carry to close it.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from fleet.errors import ClusterError
from fleet.hub.log import EventLog
from fleet.kube.api import ApiError, Fence
from fleet.kube.leases import ADDRESS_ANNOTATION, CLUSTER_ANNOTATION, Lease, LeaseStore
from fleet.model.sharding import owner

MEMBER, CLUSTER = "member", "cluster"
BOOTTIME: int | None = getattr(time, "CLOCK_BOOTTIME", None)


def _clock() -> float:
    """Seconds on a clock that keeps counting while the process or the machine is stopped: a term must
    not outlive a pause. CLOCK_BOOTTIME also counts a suspended machine, CLOCK_MONOTONIC does not."""
    return time.clock_gettime(BOOTTIME) if BOOTTIME is not None else time.monotonic()


ACQUIRE_IN_FLIGHT = 8


@dataclass(frozen=True)
class ShardSettings:
    identity: str  # unique per replica (the pod's name)
    address: str  # http://host:port where peers reach this replica's API
    duration: float = 10.0  # seconds a member Lease stays valid without renewal
    renew: float = 2.0  # seconds between renewals (and looks at the other replicas)
    margin: float = 2.0  # a holder stops writing this long before anyone else may take over


def lease_name(kind: str, name: str) -> str:
    """A Lease name (a DNS subdomain) for a replica identity or a cluster name."""
    safe = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:200] or "x"
    return f"fleet-{kind}-{safe}"


class Shards:
    def __init__(
        self,
        store: LeaseStore,
        settings: ShardSettings,
        *,
        on_change: Callable[[frozenset[str]], Awaitable[None]],
        log: EventLog,
    ) -> None:
        self.store = store
        self.settings = settings
        self.on_change = on_change
        self.log = log
        self.clusters: frozenset[str] = frozenset()  # the enabled clusters of the registry
        self.loaded = False  # whether ``clusters`` comes from a loaded registry (leases are collected then)
        self.held: set[str] = set()
        self.members: dict[str, str] = {}  # live replica identity -> address (this one included)
        self._observed: dict[str, tuple[str, float]] = {}  # Lease name -> (resourceVersion, seen at, our clock)
        self._member: Lease | None = None
        self._deadline = 0.0  # our member Lease is valid until then (on _clock)
        self.ready = asyncio.Event()  # set after the first look at the Leases

    @property
    def identity(self) -> str:
        return self.settings.identity

    def holds(self, cluster: str) -> bool:
        return cluster in self.held and _clock() < self._deadline

    def fence(self, cluster: str) -> Fence:
        return lambda: self.holds(cluster)

    def set_clusters(self, names: Iterable[str]) -> None:
        self.clusters, self.loaded = frozenset(names), True

    def owner_of(self, name: str) -> str | None:
        """The live replica that should handle ``name`` (a cluster, or an env's rollout)."""
        return owner(name, self.members)

    # ---- the loop ----------------------------------------------------------------------------------

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except (ClusterError, ApiError) as exc:
                # The management cluster is unreachable: nothing is renewed, so what this replica holds
                # lapses on its own clock and the others take it over.
                self.log("coordination_error", error=str(exc))
            await asyncio.sleep(self.settings.renew)

    async def tick(self) -> None:
        if self.held and _clock() >= self._deadline:
            lost = sorted(self.held)
            self.held.clear()
            self.log("lease_lapsed", clusters=len(lost), first=lost[0])
            await self.on_change(frozenset())
        sent = _clock()
        if await self._renew_member():
            self._deadline = sent + self.settings.duration - self.settings.margin
        leases = await self.store.list()
        now = _clock()
        self._observe(leases, now)
        if now >= self._deadline:
            return  # not a live member: nothing may be taken
        self.members = {
            lease.holder: lease.annotations.get(ADDRESS_ANNOTATION, "")
            for lease in leases
            if lease.kind == MEMBER and lease.holder and (lease.holder == self.identity or self._alive(lease, now))
        }
        by_cluster = {lease.annotations.get(CLUSTER_ANNOTATION, ""): lease for lease in leases if lease.kind == CLUSTER}
        await self._let_go(by_cluster)
        await self._take(by_cluster)
        await self._collect(by_cluster)
        self.ready.set()

    def _observe(self, leases: list[Lease], now: float) -> None:
        seen = {}
        for lease in leases:
            before = self._observed.get(lease.name)
            seen[lease.name] = (
                before if before and before[0] == lease.resource_version else (lease.resource_version, now)
            )
        self._observed = seen

    def _alive(self, lease: Lease, now: float) -> bool:
        return now - self._observed[lease.name][1] < (lease.duration or self.settings.duration)

    async def _renew_member(self) -> bool:
        name = lease_name(MEMBER, self.identity)
        lease = self._member or await self.store.get(name)
        address = {ADDRESS_ANNOTATION: self.settings.address}
        if lease is None:
            got = await self.store.create(
                name, kind=MEMBER, holder=self.identity, duration=self.settings.duration, annotations=address
            )
        else:
            got = await self.store.update(lease, holder=self.identity, duration=self.settings.duration, **address)
        self._member = got  # None: changed under us; read again next time
        return got is not None

    async def _let_go(self, by_cluster: dict[str, Lease]) -> None:
        mine = {c for c in self.clusters if self.owner_of(c) == self.identity}
        taken = {c for c in self.held if (lease := by_cluster.get(c)) is None or lease.holder != self.identity}
        release = (self.held - mine) | taken
        if not release:
            return
        self.held -= release
        if taken:
            self.log("lease_taken", clusters=len(taken), first=sorted(taken)[0])
        # The loops stop (in-flight requests cancelled) before anyone else may write to these clusters.
        await self.on_change(frozenset(self.held))
        for name in sorted(release - taken):
            lease = by_cluster.get(name)
            if lease is not None and lease.holder == self.identity:
                await self.store.update(lease, holder="", duration=self.settings.duration)
        self.log("shard_released", clusters=len(release), first=sorted(release)[0])

    async def _take(self, by_cluster: dict[str, Lease]) -> None:
        wanted = sorted(c for c in self.clusters - self.held if self.owner_of(c) == self.identity)
        slots = asyncio.Semaphore(ACQUIRE_IN_FLIGHT)

        async def take(name: str) -> str | None:
            lease = by_cluster.get(name)
            if lease is not None and lease.holder not in ("", self.identity) and lease.holder in self.members:
                return None  # a live replica still holds it; it lets go on its next look
            async with slots:
                if lease is None:
                    got = await self.store.create(
                        lease_name(CLUSTER, name),
                        kind=CLUSTER,
                        holder=self.identity,
                        duration=self.settings.duration,
                        annotations={CLUSTER_ANNOTATION: name},
                    )
                else:
                    # Also when it already names us (after a pause, or a restart under the same name): the
                    # conditional write makes sure nobody took it in between.
                    got = await self.store.update(lease, holder=self.identity, duration=self.settings.duration)
            return name if got is not None else None

        won = {n for n in await asyncio.gather(*(take(n) for n in wanted)) if n}
        if won and _clock() < self._deadline:
            self.held |= won
            self.log("shard_taken", clusters=len(won), first=sorted(won)[0], held=len(self.held))
            await self.on_change(frozenset(self.held))

    async def _collect(self, by_cluster: dict[str, Lease]) -> None:
        """Leases of clusters that left the registry, once nobody holds them."""
        if not self.loaded:
            return
        for name, lease in by_cluster.items():
            orphan = name not in self.clusters and (lease.holder == "" or lease.holder not in self.members)
            if orphan and self.owner_of(name) == self.identity:
                await self.store.delete(lease)

    async def leave(self) -> None:
        """A clean shutdown: loops stopped, every Lease released, the member Lease deleted, so the others
        take over at their next look instead of after the lease duration."""
        held, self.held = set(self.held), set()
        await self.on_change(frozenset())
        if not held and self._member is None:
            return
        try:
            leases = {lease.annotations.get(CLUSTER_ANNOTATION, ""): lease for lease in await self.store.list()}
            for name in sorted(held):
                lease = leases.get(name)
                if lease is not None and lease.holder == self.identity:
                    await self.store.update(lease, holder="", duration=self.settings.duration)
            if self._member is not None:
                await self.store.delete(self._member)
        except (ClusterError, ApiError) as exc:
            self.log("coordination_error", error=str(exc))
        self.log("shard_left", clusters=len(held))
