"""fleet's vocabulary, in one place: the labels, annotations and field manager it writes into clusters,
where it keeps its inventory there, and the layout of the fleet repository it reads.

Changing a value here changes what fleet recognises as its own in every cluster of a running fleet: an
object labelled with the old value would no longer count as managed (and never be pruned).
"""

from __future__ import annotations

# ---- written into every cluster -----------------------------------------------------------------------

FIELD_MANAGER = "fleet"  # the server-side apply field manager of everything fleet applies
MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "fleet"
CLUSTER_LABEL = "fleet.dev/cluster"  # which cluster of the registry an object was rendered for
ENV_LABEL = "fleet.dev/env"
REVISION_ANNOTATION = "fleet.dev/source-revision"  # the Git revision an object was last rendered at
SOURCE_ANNOTATION = "fleet.dev/source-path"  # the repository file that rendered it
WAVE_ANNOTATION = "fleet.dev/wave"  # apply order inside one cluster: higher waves after lower ones

INVENTORY_NAMESPACE = "fleet-system"
INVENTORY_NAME = "fleet-inventory"  # the default; the hub's config may name another (several fleets)

# ---- the fleet repository -----------------------------------------------------------------------------

CLUSTERS_DIR = "clusters"
OVERLAYS = "overlays"
BASE = f"{OVERLAYS}/base"
SOURCES_FILE = "sources.yaml"  # Helm charts and Kustomize directories of the base or an env
RESERVED_FILES = frozenset({"values.yaml", "release.yaml", "env.yaml", SOURCES_FILE})  # not manifests
HEAD_REVISIONS = frozenset({"", "HEAD"})  # a release pin at these renders the revision being read
ROLLOUT_WAVE_LABEL = "wave"  # registry label: the wave of a cluster inside its env's rollouts


def release_path(env: str) -> str:
    """The env's release pin: ``overlays/<env>/release.yaml``."""
    return f"{OVERLAYS}/{env}/release.yaml"


def is_managed_by_fleet(obj: dict[str, object], cluster: str) -> bool:
    """Labelled as applied by fleet for ``cluster``: only such objects are ever pruned."""
    metadata = obj.get("metadata")
    labels = metadata.get("labels") if isinstance(metadata, dict) else None
    if not isinstance(labels, dict):
        return False
    return labels.get(MANAGED_BY) == MANAGED_BY_VALUE and labels.get(CLUSTER_LABEL) == cluster
