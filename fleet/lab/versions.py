"""Pinned versions of the lab's binaries and where the built binaries are cached.

The Go modules under ``gomod/`` pin the exact dependency graphs; the versions here must match them
(tests/unit/test_lab_versions.py checks that they do).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

KUBERNETES_VERSION = "v1.36.3"  # the default: clusters whose kind-config names no version
# Every Kubernetes version the lab builds, newest first, with the Go module directory that pins it. A real
# fleet is never on one minor: kind-config/<cluster>.yaml chooses one per cluster (its node image tag).
KUBERNETES_VERSIONS: dict[str, str] = {
    "v1.36.3": "kubernetes",
    "v1.35.4": "kubernetes-1.35",
    "v1.34.4": "kubernetes-1.34",
}
ETCD_VERSION = "v3.6.16"
KWOK_VERSION = "v0.8.0"
HELM_VERSION = "v3.22.0"  # renders Helm chart sources; kustomize comes with the default kubectl

GOMOD_DIR = Path(__file__).parent / "gomod"
CONTROL_PLANE_BINARIES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")


@dataclass(frozen=True)
class Binary:
    """One lab binary: which Go module directory builds it, from which package."""

    name: str
    module_dir: str
    package: str
    stamp_kubernetes_version: bool = False


BINARIES: tuple[Binary, ...] = (
    Binary("etcd", "etcd", "go.etcd.io/etcd/server/v3"),
    Binary("kwok", "kwok", "sigs.k8s.io/kwok/cmd/kwok"),
    Binary("kube-apiserver", "kubernetes", "k8s.io/kubernetes/cmd/kube-apiserver", True),
    Binary("kube-controller-manager", "kubernetes", "k8s.io/kubernetes/cmd/kube-controller-manager", True),
    Binary("kube-scheduler", "kubernetes", "k8s.io/kubernetes/cmd/kube-scheduler", True),
    Binary("kubectl", "kubernetes", "k8s.io/kubernetes/cmd/kubectl", True),
)


def cache_root() -> Path:
    """``$FLEET_CACHE_DIR`` or ``$XDG_CACHE_HOME/fleet`` or ``~/.cache/fleet``."""
    explicit = os.environ.get("FLEET_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "fleet"


def build_fingerprint() -> str:
    """A short digest of everything that decides the binaries: versions and the pinned module files.

    A change of any go.mod/go.sum lands in a new cache directory instead of reusing stale binaries.
    """
    digest = hashlib.sha256()
    for text in (KUBERNETES_VERSION, ETCD_VERSION, KWOK_VERSION):
        digest.update(text.encode())
    # Only the modules of the default set: the other Kubernetes versions have directories of their own.
    for path in sorted(p for b in {b.module_dir for b in BINARIES} for p in (GOMOD_DIR / b).glob("go.*")):
        digest.update(path.relative_to(GOMOD_DIR).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def bin_dir() -> Path:
    """Where the binaries of this exact pin live: ``<cache>/lab/k8s-..._etcd-..._kwok-..._<digest>/bin``."""
    if os.environ.get("FLEET_LAB_BIN_DIR"):
        return Path(os.environ["FLEET_LAB_BIN_DIR"]).expanduser()
    tag = f"k8s-{KUBERNETES_VERSION}_etcd-{ETCD_VERSION}_kwok-{KWOK_VERSION}_{build_fingerprint()}"
    return cache_root() / "lab" / tag / "bin"


def minor_of(version: str) -> str:
    """``v1.34.4`` -> ``1.34``."""
    return ".".join(version.lstrip("v").split(".")[:2])


def pinned_version(requested: str) -> str | None:
    """The pinned version of the lab for a requested ``v1.34``, ``1.34.2`` or ``v1.34.4``: same minor."""
    for version in KUBERNETES_VERSIONS:
        if minor_of(version) == minor_of(requested):
            return version
    return None


def control_plane_binaries(version: str) -> tuple[Binary, ...]:
    """The binaries of one Kubernetes version (kubectl only for the default one)."""
    module = KUBERNETES_VERSIONS[version]
    names = CONTROL_PLANE_BINARIES + (("kubectl",) if version == KUBERNETES_VERSION else ())
    return tuple(Binary(n, module, f"k8s.io/kubernetes/cmd/{n}", True) for n in names)


def kubernetes_bin_dir(version: str) -> Path:
    """Where one Kubernetes version's control plane lives: the default one beside etcd and kwok, the
    others in a directory of their own, keyed by their module's go.mod/go.sum."""
    if version == KUBERNETES_VERSION:
        return bin_dir()
    module = GOMOD_DIR / KUBERNETES_VERSIONS[version]
    digest = hashlib.sha256(version.encode())
    for path in sorted(module.glob("go.*")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    if os.environ.get("FLEET_LAB_BIN_DIR"):
        return Path(os.environ["FLEET_LAB_BIN_DIR"]).expanduser() / f"k8s-{version}"
    return cache_root() / "lab" / f"k8s-{version}_{digest.hexdigest()[:12]}" / "bin"


# ---- render tools ------------------------------------------------------------------------------------

HELM = Binary("helm", "helm", "helm.sh/helm/v3/cmd/helm")


def helm_ldflags() -> str:
    return f"-s -w -X helm.sh/helm/v3/internal/version.version={HELM_VERSION}"


def tools_bin_dir() -> Path:
    """Where the render tools built from pinned modules live (helm), keyed by their go.mod/go.sum: apart
    from the lab's control planes, so that a new helm pin never rebuilds Kubernetes."""
    digest = hashlib.sha256(HELM_VERSION.encode())
    for path in sorted((GOMOD_DIR / HELM.module_dir).glob("go.*")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    if os.environ.get("FLEET_LAB_BIN_DIR"):
        return Path(os.environ["FLEET_LAB_BIN_DIR"]).expanduser() / "tools"
    return cache_root() / "tools" / f"helm-{HELM_VERSION}_{digest.hexdigest()[:12]}" / "bin"
