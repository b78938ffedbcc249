"""Charts from HTTP chart repositories: fetched once per version, verified against the repository index's
digest, kept in a content-addressed cache.

The repository URL comes from Git, so from anyone who can open a pull request: the hub fetches only from
repositories its own config allows (``chartRepositories``), follows no redirect, bounds every download in
time and size, and trusts a package only when its sha256 matches the digest the index lists. OCI
registries are not supported.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import yaml

from fleet.errors import RenderError

FETCH_TIMEOUT = 5.0
MAX_INDEX_BYTES = 16 * 1024 * 1024
MAX_CHART_BYTES = 16 * 1024 * 1024


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect could lead anywhere: the allowed URL is the only one fetched


_OPENER = urllib.request.build_opener(_NoRedirect, urllib.request.ProxyHandler({}))


def allowed(url: str, repositories: tuple[str, ...]) -> bool:
    """Whether ``url`` lies under one of the hub's allowed repository URLs."""
    return any(url == r.rstrip("/") or url.startswith(r.rstrip("/") + "/") for r in repositories)


def _get(url: str, limit: int, *, what: str, path: str, cluster: str) -> bytes:
    try:
        with _OPENER.open(url, timeout=FETCH_TIMEOUT) as response:
            data: bytes = response.read(limit + 1)
    except urllib.error.HTTPError as exc:
        raise RenderError(f"{what}: HTTP {exc.code} from {url}", path=path, cluster=cluster) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RenderError(f"{what}: cannot fetch {url} ({reason})", path=path, cluster=cluster) from None
    if len(data) > limit:
        raise RenderError(f"{what}: {url} is over {limit} bytes", path=path, cluster=cluster)
    return data


def fetch_chart(
    *, repo: str, name: str, version: str, repositories: tuple[str, ...], cache: Path, path: str, cluster: str
) -> bytes:
    """The packaged chart ``name`` at exactly ``version`` from ``repo``, verified; from the cache if there."""
    repo = repo.rstrip("/")
    if urlsplit(repo).scheme not in ("http", "https") or not allowed(repo, repositories):
        raise RenderError(
            f"chart repository {repo} is not allowed by the hub config (chartRepositories)", path=path, cluster=cluster
        )
    what = f"chart {name} {version}"
    index_data = _get(f"{repo}/index.yaml", MAX_INDEX_BYTES, what=what, path=path, cluster=cluster)
    try:
        index = yaml.safe_load(index_data)
    except yaml.YAMLError:
        raise RenderError(f"{what}: {repo}/index.yaml is not YAML", path=path, cluster=cluster) from None
    # The index is another party's file: any shape is possible, and a wrong one means "not there".
    charts = index.get("entries") if isinstance(index, dict) else None
    entries = charts.get(name) if isinstance(charts, dict) else None
    listed = entries if isinstance(entries, list) else []
    entry = next((e for e in listed if isinstance(e, dict) and str(e.get("version")) == version), None)
    if entry is None:
        raise RenderError(f"{what}: not in {repo}/index.yaml", path=path, cluster=cluster)
    digest = str(entry.get("digest") or "")
    urls = entry.get("urls") or []
    if len(digest) != 64 or not urls or not isinstance(urls[0], str):
        raise RenderError(f"{what}: the index lists no sha256 digest or URL for it", path=path, cluster=cluster)
    cached = cache / f"{digest}.tgz"
    if cached.is_file() and hashlib.sha256(cached.read_bytes()).hexdigest() == digest:
        return cached.read_bytes()
    url = urljoin(repo + "/", urls[0])
    if not allowed(url, repositories):
        raise RenderError(f"{what}: its URL {url} is not under an allowed repository", path=path, cluster=cluster)
    package = _get(url, MAX_CHART_BYTES, what=what, path=path, cluster=cluster)
    found = hashlib.sha256(package).hexdigest()
    if found != digest:
        raise RenderError(
            f"{what}: the package's sha256 {found[:12]}... does not match the index's {digest[:12]}...",
            path=path,
            cluster=cluster,
        )
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=cache, delete=False) as partial:
        partial.write(package)
    os.replace(partial.name, cached)
    return package
