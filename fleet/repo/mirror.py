"""The hub's copy of the fleet repository: a bare clone in the hub's state directory, fetched on an
interval and on webhooks. Works the same for a URL and for a local path; blocking Git runs in a thread."""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

import git

from fleet.errors import SourceError
from fleet.repo.source import Repository, Snapshot, redact


@dataclass(frozen=True)
class Fetched:
    revision: str
    changed: bool
    seconds: float


class GitSource:
    def __init__(self, url: str, branch: str, state_dir: Path) -> None:
        self.url = url
        self.branch = branch
        digest = hashlib.sha256(url.encode()).hexdigest()[:12]
        self.path = state_dir / f"repo-{digest}.git"
        self.revision = ""
        self._lock = asyncio.Lock()
        self._repository: Repository | None = None

    def _open(self) -> Repository:
        if self._repository is None:
            if not (self.path / "HEAD").exists():
                self.path.parent.mkdir(parents=True, exist_ok=True)
                repo = git.Repo.init(self.path, bare=True)
                repo.create_remote("origin", self.url)
            self._repository = Repository(self.path)
        return self._repository

    def _fetch(self) -> str:
        repository = self._open()
        try:
            with repository.lock:
                repository.repo.git.fetch("origin", f"+refs/heads/{self.branch}:refs/remotes/origin/{self.branch}")
        except git.GitCommandError as exc:
            reason = str(exc.stderr or exc).strip().splitlines()[-1] if (exc.stderr or str(exc)).strip() else "failed"
            raise SourceError(f"fetch of {self.branch} from the fleet repository failed: {redact(reason)}") from None
        return repository.resolve(f"origin/{self.branch}")

    async def fetch(self) -> Fetched:
        """Fetch the branch; serialised, so a webhook and the poller never fetch at once."""
        async with self._lock:
            started = time.monotonic()
            revision = await asyncio.to_thread(self._fetch)
            changed = revision != self.revision
            self.revision = revision
            return Fetched(revision, changed, time.monotonic() - started)

    @property
    def repository(self) -> Repository:
        return self._open()

    async def snapshot(self, revision: str) -> Snapshot:
        return await asyncio.to_thread(self._open().snapshot, revision)
