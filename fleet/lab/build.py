"""``fleet lab build``: compile the lab's binaries from the Go module proxy into the cache.

Each binary is built into a temporary name and renamed into place, so a build killed half-way never
leaves a truncated binary that a later run would trust.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fleet.errors import LabBuildError
from fleet.lab.versions import (
    BINARIES,
    GOMOD_DIR,
    HELM,
    HELM_VERSION,
    KUBERNETES_VERSION,
    KUBERNETES_VERSIONS,
    Binary,
    bin_dir,
    control_plane_binaries,
    helm_ldflags,
    kubernetes_bin_dir,
    tools_bin_dir,
)


@dataclass(frozen=True)
class BuildResult:
    name: str
    path: Path
    built: bool  # False when it was already in the cache
    seconds: float


def kubernetes_ldflags(version: str = KUBERNETES_VERSION) -> str:
    """Version stamping so that ``/version`` reports the real release instead of v0.0.0-master."""
    major, minor = version.lstrip("v").split(".")[:2]
    flags = ["-s", "-w"]
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [
            f"-X {pkg}.gitVersion={version}",
            f"-X {pkg}.gitMajor={major}",
            f"-X {pkg}.gitMinor={minor}",
            f"-X {pkg}.gitCommit=0000000000000000000000000000000000000000",
            f"-X {pkg}.gitTreeState=clean",
            f"-X {pkg}.buildDate=1970-01-01T00:00:00Z",
        ]
    return " ".join(flags)


def find_go() -> str:
    go = shutil.which("go") or next((p for p in ("/usr/local/go/bin/go",) if os.access(p, os.X_OK)), None)
    if not go:
        raise LabBuildError(
            "the lab builds its control-plane binaries with Go, and `go` was not found on PATH; "
            "install Go 1.26 or newer (https://go.dev/dl) and run `fleet lab build` again"
        )
    return go


def missing_binaries(target: Path | None = None, *, versions: tuple[str, ...] = ()) -> list[Binary]:
    """The default set (etcd, kwok, the default Kubernetes version) missing in ``target``, and the control
    plane of every other version in ``versions`` missing in its own directory."""
    target = target or bin_dir()
    missing = [b for b in BINARIES if not (target / b.name).is_file()]
    for version in versions:
        if version != KUBERNETES_VERSION:
            where = kubernetes_bin_dir(version)
            missing += [b for b in control_plane_binaries(version) if not (where / b.name).is_file()]
    return missing


def build_binaries(
    *,
    target: Path | None = None,
    force: bool = False,
    versions: tuple[str, ...] = tuple(KUBERNETES_VERSIONS),
    log: Callable[[str], None] = lambda _msg: None,
) -> list[BuildResult]:
    """The default set into ``target`` and each other Kubernetes version of ``versions`` into its own
    directory; what the cache has is kept unless ``force``."""
    results = _build_set(list(BINARIES), target or bin_dir(), KUBERNETES_VERSION, force=force, log=log)
    results += _build_set([HELM], tools_bin_dir(), HELM_VERSION, force=force, log=log)
    for version in versions:
        if version != KUBERNETES_VERSION:
            binaries = list(control_plane_binaries(version))
            results += _build_set(binaries, kubernetes_bin_dir(version), version, force=force, log=log)
    return results


def _build_set(
    binaries: list[Binary], target: Path, version: str, *, force: bool, log: Callable[[str], None]
) -> list[BuildResult]:
    target.mkdir(parents=True, exist_ok=True)
    todo = binaries if force else [b for b in binaries if not (target / b.name).is_file()]
    results = [BuildResult(b.name, target / b.name, False, 0.0) for b in binaries if b not in todo]
    if not todo:
        return results
    go = find_go()
    env = dict(os.environ)
    # The pinned go.mod files are the truth: never let `go` switch toolchains or edit them.
    env.setdefault("GOTOOLCHAIN", "local")
    env["GOFLAGS"] = (env.get("GOFLAGS", "") + " -mod=readonly").strip()
    env.setdefault("CGO_ENABLED", "0")
    for binary in todo:
        label = f"{binary.name} {version}" if binary.stamp_kubernetes_version else binary.name
        log(f"building {label} ...")
        started = time.monotonic()
        partial = target / f".{binary.name}.partial"
        if binary.stamp_kubernetes_version:
            ldflags = kubernetes_ldflags(version)
        else:
            ldflags = helm_ldflags() if binary == HELM else "-s -w"
        command = [go, "build", "-p", "2", "-trimpath", "-ldflags", ldflags, "-o", str(partial), binary.package]
        proc = subprocess.run(
            command, cwd=GOMOD_DIR / binary.module_dir, env=env, capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            partial.unlink(missing_ok=True)
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-25:])
            raise LabBuildError(f"building {binary.name} from {binary.package} failed:\n{tail}")
        partial.replace(target / binary.name)
        seconds = time.monotonic() - started
        log(f"built {label} in {seconds:.0f}s")
        results.append(BuildResult(binary.name, target / binary.name, True, seconds))
    return results


def require_binaries(versions: tuple[str, ...] = ()) -> Path:
    """The bin dir, or a clear error telling the user to build first."""
    target = bin_dir()
    missing = missing_binaries(target, versions=versions)
    if missing:
        names = ", ".join(sorted({b.name for b in missing}))
        raise LabBuildError(
            f"lab binaries missing ({names}) for Kubernetes {', '.join(versions) or KUBERNETES_VERSION}; "
            "run `fleet lab build` first"
        )
    return target
