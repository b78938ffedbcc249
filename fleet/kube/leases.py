"""Leases (coordination.k8s.io/v1) in the management cluster: the records the hub's replicas coordinate
through. Every change is a conditional write (the resourceVersion read before), so two replicas can never
both win the same Lease; the rules deciding who may take which Lease are fleet.hub.shards'.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fleet.kube.api import ApiError, ClusterApi

LEASE_KIND_LABEL = "fleet.dev/lease"  # "member" (one per hub replica) or "cluster" (one per managed cluster)
ADDRESS_ANNOTATION = "fleet.dev/address"  # a member's HTTP address, where its peers read its reports
CLUSTER_ANNOTATION = "fleet.dev/cluster"  # the registry name a cluster Lease stands for


def micro_time(epoch: float | None = None) -> str:
    """A Kubernetes MicroTime."""
    epoch = time.time() if epoch is None else epoch
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch % 1 * 1e6):06d}Z"


@dataclass(frozen=True)
class Lease:
    name: str
    kind: str  # the fleet.dev/lease label
    holder: str
    resource_version: str
    duration: float
    transitions: int = 0
    annotations: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_object(cls, obj: Mapping[str, Any]) -> Lease:
        metadata = obj.get("metadata") or {}
        spec = obj.get("spec") or {}
        return cls(
            name=str(metadata.get("name", "")),
            kind=str((metadata.get("labels") or {}).get(LEASE_KIND_LABEL, "")),
            holder=str(spec.get("holderIdentity") or ""),
            resource_version=str(metadata.get("resourceVersion", "")),
            duration=float(spec.get("leaseDurationSeconds") or 0),
            transitions=int(spec.get("leaseTransitions") or 0),
            annotations=dict(metadata.get("annotations") or {}),
        )


class LeaseStore:
    """The fleet Leases of one namespace."""

    def __init__(self, api: ClusterApi, namespace: str) -> None:
        self.api = api
        self.namespace = namespace
        self.collection = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"

    async def list(self) -> list[Lease]:
        """Every fleet Lease (members and clusters) in one request."""
        data = await self.api.get(self.collection, labelSelector=LEASE_KIND_LABEL)
        return [Lease.from_object(item) for item in data.get("items") or []]

    async def get(self, name: str) -> Lease | None:
        try:
            return Lease.from_object(await self.api.get(f"{self.collection}/{name}"))
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    async def create(
        self, name: str, *, kind: str, holder: str, duration: float, annotations: Mapping[str, str]
    ) -> Lease | None:
        """The new Lease, or None when another replica created it first."""
        now = micro_time()
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": name,
                "namespace": self.namespace,
                "labels": {LEASE_KIND_LABEL: kind},
                "annotations": dict(annotations),
            },
            "spec": {
                "holderIdentity": holder,
                "leaseDurationSeconds": int(duration),
                "acquireTime": now,
                "renewTime": now,
                "leaseTransitions": 0,
            },
        }
        try:
            return Lease.from_object(await self.api.request("POST", self.collection, body=body))
        except ApiError as exc:
            if exc.status == 409:
                return None
            raise

    async def update(self, lease: Lease, *, holder: str, duration: float, **annotations: str) -> Lease | None:
        """``lease`` rewritten (renewed, taken or released) if nobody changed it since it was read; None
        when someone did (the caller reads it again)."""
        now = micro_time()
        spec: dict[str, Any] = {"holderIdentity": holder, "leaseDurationSeconds": int(duration), "renewTime": now}
        transitions = lease.transitions
        if holder != lease.holder:
            transitions += 1
            spec["acquireTime"] = now
        spec["leaseTransitions"] = transitions
        metadata: dict[str, Any] = {
            "name": lease.name,
            "namespace": self.namespace,
            "resourceVersion": lease.resource_version,
            "labels": {LEASE_KIND_LABEL: lease.kind},
            "annotations": {**lease.annotations, **annotations},
        }
        body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": metadata, "spec": spec}
        try:
            return Lease.from_object(await self.api.request("PUT", f"{self.collection}/{lease.name}", body=body))
        except ApiError as exc:
            if exc.status in (404, 409):
                return None
            raise

    async def delete(self, lease: Lease) -> None:
        """Deleted if unchanged since read; gone or changed is fine (nothing of ours to remove)."""
        options = {"preconditions": {"resourceVersion": lease.resource_version}}
        try:
            await self.api.request("DELETE", f"{self.collection}/{lease.name}", body=options)
        except ApiError as exc:
            if exc.status not in (404, 409):
                raise
