"""Which hub replica reconciles which cluster: rendezvous (highest random weight) hashing over the live
replicas. Every replica computes the same answer from the same member list, and adding or removing one
of N replicas moves only the clusters that replica wins or held, about 1/N of them."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def _weight(member: str, cluster: str) -> bytes:
    return hashlib.sha256(f"{member}\0{cluster}".encode()).digest()


def owner(cluster: str, members: Iterable[str]) -> str | None:
    """The member that should reconcile ``cluster``; None without members."""
    return max(members, key=lambda m: (_weight(m, cluster), m), default=None)


def assignment(clusters: Iterable[str], members: Iterable[str]) -> dict[str, str]:
    """cluster -> member, for every cluster (empty without members)."""
    live = sorted(set(members))
    if not live:
        return {}
    return {c: owner(c, live) or "" for c in clusters}
