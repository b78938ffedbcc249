"""Running the real Helm and Kustomize engines on files from Git, as untrusted input.

A tool never sees the hub's files or network: it runs on a private copy of only the files it needs
(written from the snapshot into a fresh 0700 directory, removed afterwards), with an empty environment
(no HOME, no KUBECONFIG, no proxy or credentials of the hub's), in a network namespace of its own where
the kernel allows one (no DNS, no HTTP; otherwise proxies pointing nowhere), under a wall-time limit, a
memory limit and a cap on what it may print. It dies with the render worker that started it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from fleet.errors import RenderError

TOOL_TIMEOUT = 20.0  # seconds for one tool run; the render worker's own limit bounds the whole render
TOOL_MEMORY_MB = 2048  # address space: Go reserves ~700 MiB at start, so the render's limit is too small
MAX_OUTPUT_BYTES = 32 * 1024 * 1024
_CLONE_NEWUSER = 0x10000000
_CLONE_NEWNET = 0x40000000
_PR_SET_PDEATHSIG = 1
_DEAD_PROXY = "http://127.0.0.1:9"  # the discard port: any HTTP a tool attempts fails at once


@dataclass(frozen=True)
class Tools:
    """Where the tools are. Empty: that kind of source cannot be rendered here (the error says how to
    get the tool)."""

    helm: str = ""
    kubectl: str = ""  # `kubectl kustomize` is kustomize, pinned with the lab's kubectl
    chart_repositories: tuple[str, ...] = ()  # the HTTP chart repositories the hub config allows
    chart_cache: str = ""  # where fetched, verified chart packages are kept (by digest)
    shared_cache: str = ""  # a private directory where the render workers of one process share tool output


def _isolate(memory_mb: int) -> None:
    """In the child, before exec: die with the parent, own session, memory limit, no network."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    os.setsid()
    limit = memory_mb * 1024 * 1024
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    # A user and network namespace of its own: only a loopback that is down. Where the kernel refuses
    # (no unprivileged user namespaces), the dead proxies of the environment still stop HTTP.
    libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET)


def _environment(home: Path) -> dict[str, str]:
    return {
        "HOME": str(home),
        "PATH": "/nonexistent",  # nothing to exec: kustomize cannot run git, helm no plugins
        "HTTP_PROXY": _DEAD_PROXY,
        "HTTPS_PROXY": _DEAD_PROXY,
        "http_proxy": _DEAD_PROXY,
        "https_proxy": _DEAD_PROXY,
        "NO_PROXY": "",
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
        "HELM_PLUGINS": str(home / "plugins"),
        "KUBECONFIG": str(home / "no-kubeconfig"),
        "KUSTOMIZE_PLUGIN_HOME": str(home / "plugins"),
    }


@contextlib.contextmanager
def workdir(files: Mapping[str, bytes]) -> Iterator[Path]:
    """A private directory holding ``files`` (repository-relative paths), removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="fleet-render-"))
    try:
        os.chmod(root, 0o700)
        tree = root / "tree"
        for rel, content in files.items():
            target = tree / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        (root / "home").mkdir()
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run_tool(
    command: list[str], *, root: Path, cwd: Path, what: str, path: str, cluster: str, timeout: float = TOOL_TIMEOUT
) -> str:
    """Run ``command`` isolated; its standard output, or a RenderError naming ``path`` and the cluster
    with the tool's own first line of complaint (paths inside the private directory made relative)."""
    try:
        proc = subprocess.run(
            command,
            cwd=cwd,
            env=_environment(root / "home"),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            preexec_fn=lambda: _isolate(TOOL_MEMORY_MB),  # runs in the forked child, before exec
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise RenderError(f"{what} did not finish within {timeout:.0f}s", path=path, cluster=cluster) from None
    except OSError as exc:
        raise RenderError(f"cannot run {what}: {exc.strerror}", path=path, cluster=cluster) from None
    if len(proc.stdout) > MAX_OUTPUT_BYTES:
        raise RenderError(f"{what} printed over {MAX_OUTPUT_BYTES} bytes", path=path, cluster=cluster)
    if proc.returncode != 0:
        raise RenderError(f"{what} failed: {_first_complaint(proc.stderr, root)}", path=path, cluster=cluster)
    return proc.stdout.decode("utf-8", errors="replace")


def _first_complaint(stderr: bytes, root: Path) -> str:
    text = stderr.decode("utf-8", errors="replace").replace(str(root / "tree") + "/", "")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    message = lines[0] if lines else "no message"
    message = message.removeprefix("Error: ").removeprefix("error: ")
    return message[:500]


# ---- versions ---------------------------------------------------------------------------------------

SUPPORTED = {"helm": ("v3.",), "kustomize": ("v5.",)}


def tool_version(binary: str, tool: str) -> str:
    """The version a tool reports (``v3.22.0``; for kubectl, the kustomize it contains), or a
    ValueError saying why it is not one fleet renders with."""
    command = [binary, "version", "--short"] if tool == "helm" else [binary, "version", "--client"]
    try:
        proc = subprocess.run(command, capture_output=True, timeout=TOOL_TIMEOUT, check=False, env={"HOME": "/"})
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ValueError(f"{binary} cannot be run ({exc})") from None
    text = proc.stdout.decode(errors="replace")
    wanted = "Kustomize Version:" if tool == "kustomize" else ""
    line = next((x for x in text.splitlines() if wanted in x), "") if wanted else text.strip()
    version = line.split(":", 1)[-1].strip().split("+", 1)[0] if line else ""
    if not version.startswith(SUPPORTED[tool]):
        found = version or "no version"
        raise ValueError(f"{binary} reports {tool} {found}; fleet renders with {' or '.join(SUPPORTED[tool])}x")
    return version
