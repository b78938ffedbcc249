"""Git access: resolve revisions and read the fleet's files at a commit, without a checkout.

A :class:`Snapshot` is the fleet's files (clusters/ and overlays/) at one revision, read into memory once.
Snapshots are immutable plain data, so several revisions can be rendered side by side, from any thread.
GitPython is blocking: async callers run these functions in an executor.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import git

from fleet.errors import InputError, SourceError


class ContentError(InputError):
    """What the repository holds is not something fleet reads (a link, a device, a file too large): the
    content is at fault, not Git, so a hub does not retry the same revision."""


FLEET_DIRS = ("clusters", "overlays")
LOCAL_REVISION = "local"  # the working tree, uncommitted edits included
MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_TOTAL_BYTES = 256 * 1024 * 1024  # all of clusters/ and overlays/ at one revision
MAX_FILES = 20_000
SYMLINK_MODE = 0o120000


_USERINFO = re.compile(r"(\w+://)[^/\s]*@")  # greedy: up to the last @ of the authority


def redact(text: str) -> str:
    """``https://user:token@host/repo`` -> ``https://***@host/repo``: credentials never reach logs or reports."""
    return _USERINFO.sub(r"\1***@", text)


@dataclass(frozen=True)
class Snapshot:
    """The fleet's files at one revision: repo-relative POSIX paths -> bytes."""

    revision: str
    files: Mapping[str, bytes] = field(repr=False)
    root: str = ""  # where the files came from, for messages

    def read(self, path: str) -> bytes:
        try:
            return self.files[path]
        except KeyError:
            raise SourceError(f"{path}: not found at revision {self.revision}") from None

    def text(self, path: str) -> str:
        try:
            return self.read(path).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", path=path) from None

    def exists(self, path: str) -> bool:
        return path in self.files

    def listdir(self, directory: str, *, suffixes: tuple[str, ...] = ()) -> list[str]:
        """Files directly in ``directory`` (not below it), sorted, optionally by suffix."""
        prefix = directory.rstrip("/") + "/"
        return sorted(
            p
            for p in self.files
            if p.startswith(prefix) and "/" not in p[len(prefix) :] and (not suffixes or p.endswith(suffixes))
        )

    def subdirs(self, directory: str) -> list[str]:
        prefix = directory.rstrip("/") + "/"
        return sorted(
            {p[len(prefix) :].split("/", 1)[0] for p in self.files if p.startswith(prefix) and "/" in p[len(prefix) :]}
        )

    def only(self, prefix: str) -> Snapshot:
        return Snapshot(self.revision, {p: b for p, b in self.files.items() if p.startswith(prefix)}, self.root)

    def overlay(self, other: Snapshot, prefix: str) -> Snapshot:
        """This snapshot with every file under ``prefix`` taken from ``other`` instead."""
        kept = {p: b for p, b in self.files.items() if not p.startswith(prefix)}
        kept.update({p: b for p, b in other.files.items() if p.startswith(prefix)})
        return Snapshot(self.revision, kept, self.root)


@dataclass(frozen=True)
class Commit:
    sha: str
    message: str
    committed_at: float  # epoch seconds
    author: str  # "Name <email>"
    parent: str | None  # the first parent; None for a root commit


class Repository:
    """A Git repository holding a fleet (clusters/ and overlays/ at its top level)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # GitPython keeps one `git cat-file` process per repository object: one thread at a time.
        self.lock = threading.RLock()
        try:
            self.repo = git.Repo(path)
        except (git.NoSuchPathError, git.InvalidGitRepositoryError):
            raise SourceError(f"{path}: not a Git repository") from None

    def resolve(self, rev: str) -> str:
        """A revision (branch, tag, sha, HEAD~1) -> full commit sha."""
        try:
            with self.lock:
                return str(self.repo.commit(rev).hexsha)
        except (git.BadName, ValueError, git.GitCommandError):
            raise SourceError(f"{self.path}: unknown revision {rev!r}") from None

    def snapshot(self, rev: str = "HEAD", *, dirs: Iterable[str] = FLEET_DIRS) -> Snapshot:
        with self.lock:
            return self._snapshot(rev, dirs)

    def current_branch(self) -> str | None:
        """The checked-out branch; None when HEAD is detached."""
        with self.lock:
            return None if self.repo.head.is_detached else str(self.repo.active_branch.name)

    def fetched(self, branch: str) -> str:
        """Fetch ``branch`` from the first remote and name what to read: ``remote/branch``, or ``branch``
        itself when the repository has no remote."""
        with self.lock:
            remote = next((r.name for r in self.repo.remotes), None)
            if remote is None:
                return branch
            try:
                self.repo.git.fetch(remote, branch)
            except git.GitCommandError:
                raise SourceError(f"cannot fetch {branch} from {remote}") from None
            return f"{remote}/{branch}"

    def history(self, path: str, *, ref: str = "HEAD", max_count: int = 200) -> list[Commit]:
        """The commits that changed ``path``, newest first."""
        try:
            with self.lock:
                commits = list(self.repo.iter_commits(ref, paths=path, max_count=max_count))
                return [
                    Commit(
                        sha=str(c.hexsha),
                        message=str(c.message),
                        committed_at=float(c.committed_date),
                        author=f"{c.author.name} <{c.author.email}>",
                        parent=str(c.parents[0].hexsha) if c.parents else None,
                    )
                    for c in commits
                ]
        except git.GitCommandError as exc:
            raise SourceError(f"cannot read history of {path}: {exc}") from None

    def _snapshot(self, rev: str, dirs: Iterable[str]) -> Snapshot:
        sha = self.resolve(rev)
        commit = self.repo.commit(sha)
        files = _Collector(f"at {sha[:12]}")
        for top in dirs:
            try:
                tree = commit.tree / top
            except KeyError:
                continue
            if not isinstance(tree, git.Tree):
                raise ContentError(f"{top}: not a directory at {sha[:12]}")
            for item in tree.traverse():
                if isinstance(item, git.Submodule):
                    raise ContentError(
                        f"{item.path}: a submodule at {sha[:12]}; fleet reads only the repository's files"
                    )
                if not isinstance(item, git.Blob):
                    continue
                if item.mode == SYMLINK_MODE:
                    # Refused, as in the working tree: a link would read differently there and here.
                    raise ContentError(f"{item.path}: a symbolic link at {sha[:12]}; fleet reads only regular files")
                files.add(str(item.path), item.size, item.data_stream.read)
        return Snapshot(sha, files.files, str(self.path))


class _Collector:
    """Files of one snapshot, within the per-file, total and count bounds."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.files: dict[str, bytes] = {}
        self.total = 0

    def add(self, path: str, size: int, read: Callable[[], bytes]) -> None:
        if size > MAX_FILE_BYTES:
            raise ContentError(f"{path}: {size} bytes {self.where}, over the {MAX_FILE_BYTES}-byte limit")
        self.total += size
        if self.total > MAX_TOTAL_BYTES or len(self.files) >= MAX_FILES:
            raise ContentError(
                f"clusters/ and overlays/ {self.where} are over {MAX_FILES} files or {MAX_TOTAL_BYTES} bytes"
            )
        self.files[path] = read()


def working_tree(path: Path, *, dirs: Iterable[str] = FLEET_DIRS) -> Snapshot:
    """The fleet's files as they are on disk, uncommitted edits included (``--local``).

    Only regular files and directories are read: a symbolic link (it could lead out of the repository)
    or a special file (a FIFO, a device) is an error naming it, and files are opened without following
    links, so nothing outside the repository is ever read."""
    files = _Collector("in the working tree")
    for top in dirs:
        base = path / top
        if base.is_symlink():
            raise ContentError(f"{top}: a symbolic link; fleet reads only regular files and directories")
        if not base.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(base):
            for name in sorted(dirnames):
                if (Path(dirpath) / name).is_symlink() and not name.startswith("."):
                    rel = (Path(dirpath) / name).relative_to(path).as_posix()
                    raise ContentError(f"{rel}: a symbolic link; fleet reads only regular files and directories")
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.startswith("."):
                    continue
                full = Path(dirpath) / name
                rel = full.relative_to(path).as_posix()
                content = _read_regular(full, rel)
                files.add(rel, len(content), content.__bytes__)
    return Snapshot(LOCAL_REVISION, files.files, str(path))


def _read_regular(full: Path, rel: str) -> bytes:
    try:
        fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ContentError(f"{rel}: a symbolic link; fleet reads only regular files") from None
        raise SourceError(f"{rel}: not readable ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ContentError(f"{rel}: not a regular file (a FIFO, socket or device); refused")
        if info.st_size > MAX_FILE_BYTES:
            raise ContentError(f"{rel}: over the {MAX_FILE_BYTES}-byte limit")
        return handle.read(MAX_FILE_BYTES + 1)[: MAX_FILE_BYTES + 1]
