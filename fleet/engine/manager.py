"""One cluster's resource manager: the only object through which fleet reads, dry-runs, applies, deletes
and waits for its objects in a cluster (the role fluxcd/pkg's ``ssa.ResourceManager`` plays). Each verb
lives in a file of its own; ``ClusterSync``, ``DriftScan``, the hub and the promotion gates all use this one
class, so a request is made one way everywhere."""

from __future__ import annotations

from fleet.engine.applying import Applying
from fleet.engine.deleting import Deleting
from fleet.engine.dryrun import DryRunning
from fleet.engine.waiting import Waiting


class ResourceManager(Waiting, DryRunning, Applying, Deleting):
    """``ResourceManager(api)``; pass ``discovery`` to share a discovery cache across uses."""
