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
from fleet.lab.versions import BINARIES, GOMOD_DIR, KUBERNETES_VERSION, Binary, bin_dir


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


def missing_binaries(target: Path | None = None) -> list[Binary]:
    target = target or bin_dir()
    return [b for b in BINARIES if not (target / b.name).is_file()]


def build_binaries(
    *,
    target: Path | None = None,
    force: bool = False,
    log: Callable[[str], None] = lambda _msg: None,
) -> list[BuildResult]:
    target = target or bin_dir()
    target.mkdir(parents=True, exist_ok=True)
    todo = list(BINARIES) if force else missing_binaries(target)
    results = [BuildResult(b.name, target / b.name, False, 0.0) for b in BINARIES if b not in todo]
    if not todo:
        return results
    go = find_go()
    env = dict(os.environ)
    # The pinned go.mod files are the truth: never let `go` switch toolchains or edit them.
    env.setdefault("GOTOOLCHAIN", "local")
    env["GOFLAGS"] = (env.get("GOFLAGS", "") + " -mod=readonly").strip()
    env.setdefault("CGO_ENABLED", "0")
    for binary in todo:
        log(f"building {binary.name} ...")
        started = time.monotonic()
        partial = target / f".{binary.name}.partial"
        ldflags = kubernetes_ldflags() if binary.stamp_kubernetes_version else "-s -w"
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
        log(f"built {binary.name} in {seconds:.0f}s")
        results.append(BuildResult(binary.name, target / binary.name, True, seconds))
    return results


def require_binaries() -> Path:
    """The bin dir, or a clear error telling the user to build first."""
    target = bin_dir()
    missing = missing_binaries(target)
    if missing:
        names = ", ".join(b.name for b in missing)
        raise LabBuildError(f"lab binaries missing in {target} ({names}); run `fleet lab build` first")
    return target
