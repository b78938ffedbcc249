"""Writing to the fleet's Git repository: one commit that changes one file, made with Git's plumbing
(no checkout, so it works in bare mirrors and never disturbs a person's working tree), and pushed without
ever forcing. GitPython is blocking: async callers use an executor."""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import git

from fleet.errors import SourceError
from fleet.repo.source import Repository, redact

PUSH_ATTEMPTS = 3
FALLBACK_IDENTITY = {"GIT_AUTHOR_NAME": "fleet", "GIT_AUTHOR_EMAIL": "fleet@localhost"}


@dataclass(frozen=True)
class Pushed:
    sha: str
    branch: str
    remote: str | None  # None: a repository without a remote, updated in place
    attempts: int


def _identity_env(repo: git.Repo) -> dict[str, str]:
    env = {}
    reader = repo.config_reader()
    for git_key, name_var, email_var in (("user", "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL"),):
        name = reader.get_value(git_key, "name", default="") or os.environ.get(name_var, "")
        email = reader.get_value(git_key, "email", default="") or os.environ.get(email_var, "")
        env[name_var] = str(name or FALLBACK_IDENTITY[name_var])
        env[email_var] = str(email or FALLBACK_IDENTITY[email_var])
    env["GIT_COMMITTER_NAME"], env["GIT_COMMITTER_EMAIL"] = env["GIT_AUTHOR_NAME"], env["GIT_AUTHOR_EMAIL"]
    return env


def author_of(repo: git.Repo) -> str:
    env = _identity_env(repo)
    return f"{env['GIT_AUTHOR_NAME']} <{env['GIT_AUTHOR_EMAIL']}>"


def commit_file(repo: git.Repo, parent: str, path: str, content: bytes, message: str) -> str:
    """A new commit on top of ``parent`` in which ``path`` holds ``content``; no ref is moved."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**_identity_env(repo), "GIT_INDEX_FILE": str(Path(tmp) / "index")}
        g = repo.git
        g.read_tree(parent, env=env)
        with tempfile.NamedTemporaryFile() as blob_file:
            blob_file.write(content)
            blob_file.flush()
            blob = g.hash_object("-w", blob_file.name, env=env)
        g.update_index("--add", "--cacheinfo", f"100644,{blob},{path}", env=env)
        tree = g.write_tree(env=env)
        return str(g.commit_tree(tree, "-p", parent, "-m", message, env=env))


@contextmanager
def repo_lock(repo: git.Repo, name: str) -> Iterator[None]:
    """Serialises writers on this machine (two promotions at once wait for each other)."""
    path = Path(repo.git_dir) / f"fleet-{name}.lock"
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _remote(repo: git.Repo) -> str | None:
    names = [r.name for r in repo.remotes]
    return "origin" if "origin" in names else (names[0] if names else None)


def publish(
    repo: git.Repo,
    branch: str,
    build: Callable[[str], tuple[str, bytes, str]],
    *,
    new_branch: str | None = None,
) -> Pushed:
    """Commit what ``build(head_sha)`` returns (path, content, message) on top of ``branch`` and publish it.

    With a remote: fetch, commit on the remote branch's head, push; a push rejected because the remote
    moved is retried on top of the new head (``build`` runs again, so the change is recomputed), never
    forced. ``new_branch`` pushes to a new branch instead (for a pull request). Without a remote, the local
    branch is moved with a compare-and-swap."""
    remote = _remote(repo)
    for attempt in range(1, PUSH_ATTEMPTS + 1):
        if remote:
            try:
                repo.git.fetch(remote, branch)
            except git.GitCommandError as exc:
                raise SourceError(f"cannot fetch {branch} from {remote}: {_git_reason(exc)}") from None
            head = str(repo.commit(f"{remote}/{branch}").hexsha)
        else:
            head = str(repo.commit(branch).hexsha)
        path, content, message = build(head)
        sha = commit_file(repo, head, path, content, message)
        target = new_branch or branch
        if remote:
            try:
                repo.git.push(remote, f"{sha}:refs/heads/{target}")
            except git.GitCommandError as exc:
                moved = "rejected" in str(exc) or "fetch first" in str(exc)
                if moved and attempt < PUSH_ATTEMPTS and not new_branch:
                    continue
                raise SourceError(f"push to {remote}/{target} failed: {_git_reason(exc)}") from None
            _follow_local(repo, target, sha, remote)
            return Pushed(sha, target, remote, attempt)
        try:
            repo.git.update_ref(f"refs/heads/{target}", sha, head if target == branch else "")
        except git.GitCommandError:
            if attempt < PUSH_ATTEMPTS:
                continue
            raise SourceError(f"{target} moved during the update; try again") from None
        _refresh_worktree(repo, target, path)
        return Pushed(sha, target, None, attempt)
    raise SourceError(f"{branch} kept moving; gave up after {PUSH_ATTEMPTS} attempts")


def _follow_local(repo: git.Repo, branch: str, sha: str, remote: str) -> None:
    """Move the local branch too when it can fast-forward and is not checked out with local changes."""
    try:
        if repo.head.is_detached or repo.active_branch.name != branch:
            if branch in repo.heads:
                local = repo.heads[branch].commit.hexsha
                if repo.is_ancestor(repo.commit(local), repo.commit(sha)):
                    repo.git.update_ref(f"refs/heads/{branch}", sha, local)
            return
        if not repo.is_dirty(untracked_files=False) and repo.is_ancestor(repo.head.commit, repo.commit(sha)):
            repo.git.merge("--ff-only", sha)
    except (git.GitCommandError, TypeError, ValueError):
        return  # the local clone stays behind; the remote is the truth and has the commit


def _refresh_worktree(repo: git.Repo, branch: str, path: str) -> None:
    if repo.bare or repo.head.is_detached or repo.active_branch.name != branch:
        return
    # HEAD moved under the working tree: bring the changed file (and the index) along.
    repo.git.checkout("HEAD", "--", path)


def _git_reason(exc: git.GitCommandError) -> str:
    text = str(exc.stderr or exc).strip().replace("\n", " ")
    return redact(text)[:300]


def publish_file(
    repository: Repository,
    *,
    branch: str,
    path: str,
    build: Callable[[str], tuple[bytes, str]],
    new_branch: str | None = None,
) -> Pushed:
    """Publish one commit that writes ``path``: ``build(author)`` returns the content and the commit message.
    Serialised per repository, across threads and processes."""
    author = author_of(repository.repo)

    def commit(_head: str) -> tuple[str, bytes, str]:
        content, message = build(author)
        return path, content, message

    with repository.lock, repo_lock(repository.repo, "promotion"):
        return publish(repository.repo, branch, commit, new_branch=new_branch)
