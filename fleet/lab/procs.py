"""Supervision of the lab's long-running processes through pid files.

Each process runs in its own session, so it outlives the `fleet lab up` that started it. A pid file holds
the pid and the process start time from /proc: a pid recycled by an unrelated process after a crash is
never mistaken for ours, and never signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    argv: tuple[str, ...]
    log_path: Path
    env: tuple[tuple[str, str], ...] = ()


def _start_time(pid: int) -> str | None:
    """Start time (clock ticks since boot) of a live, non-zombie process; None if there is none."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name may contain spaces and parentheses: fields start after the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    state, start = fields[0], fields[19]
    if state in ("Z", "X"):
        _reap(pid)
        return None
    return start


def _reap(pid: int) -> None:
    # Only succeeds for our own children (the test fixture starts them); harmless otherwise.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


class Supervisor:
    """Starts, finds, signals and stops the processes of one lab directory."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir

    def _pid_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def pid(self, name: str) -> int | None:
        """The pid of a running process of ours, or None (stale pid files are removed)."""
        path = self._pid_file(name)
        try:
            pid_text, start = path.read_text().split()
        except (FileNotFoundError, ValueError):
            return None
        pid = int(pid_text)
        if _start_time(pid) != start:
            path.unlink(missing_ok=True)
            return None
        return pid

    def is_running(self, name: str) -> bool:
        return self.pid(name) is not None

    def is_paused(self, name: str) -> bool:
        pid = self.pid(name)
        if pid is None:
            return False
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.rindex(")") + 2] == "T"

    def start(self, spec: ProcessSpec) -> int:
        existing = self.pid(spec.name)
        if existing is not None:
            return existing
        self.run_dir.mkdir(parents=True, exist_ok=True)
        spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env.update(dict(spec.env))
        with spec.log_path.open("ab") as log:
            log.write(f"\n==== {time.strftime('%Y-%m-%dT%H:%M:%S')} starting {spec.name}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                spec.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                close_fds=True,
            )
        start = _start_time(proc.pid)
        if start is None:  # died at once: leave no pid file, the caller reads the log
            proc.wait()
            return proc.pid
        self._pid_file(spec.name).write_text(f"{proc.pid} {start}\n")
        return proc.pid

    def signal(self, name: str, sig: signal.Signals) -> bool:
        pid = self.pid(name)
        if pid is None:
            return False
        os.kill(pid, sig)
        return True

    def stop(self, name: str, *, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout``; a paused process is continued so it can exit."""
        pid = self.pid(name)
        if pid is None:
            self._pid_file(name).unlink(missing_ok=True)
            return
        start = _start_time(pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
            os.kill(pid, signal.SIGCONT)
        deadline = time.monotonic() + timeout
        while _start_time(pid) == start and start is not None:
            if time.monotonic() > deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                deadline = time.monotonic() + 5.0
            time.sleep(0.05)
        self._pid_file(name).unlink(missing_ok=True)

    def kill(self, name: str) -> None:
        """SIGKILL without cleanup, as a crash would (fault tests)."""
        pid = self.pid(name)
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            while _start_time(pid) is not None:
                time.sleep(0.02)

    def known(self) -> list[str]:
        return sorted(p.stem for p in self.run_dir.glob("*.pid"))
