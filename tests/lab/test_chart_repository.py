"""Charts from an HTTP chart repository served by the test on 127.0.0.1: fetched once per version, verified
against the index's digest, only from repositories the hub config allows."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from fleet.config import FleetConfig
from fleet.errors import InputError
from fleet.lab.versions import cache_root
from fleet.workflows.workspace import Workspace
from tests.support.charts import CHART, CHART_FILES
from tests.support.fleetfiles import MINIMAL, snapshot


def package(version: str) -> bytes:
    """The chart as `helm package` lays it out: a gzipped tar with the chart directory at its top."""
    buffer = io.BytesIO()
    # gzip's header records a time: fixed, so that the same chart is the same bytes (and digest) each call
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as zipped, tarfile.open(fileobj=zipped, mode="w") as tar:
        for path, text in sorted(CHART_FILES.items()):
            data = text.replace("version: 0.3.0", f"version: {version}").encode()
            info = tarfile.TarInfo("shop-api/" + path.removeprefix(CHART + "/"))
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def repository(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A chart repository with shop-api 0.3.0 and 0.4.0 (0.4.0 listed with a wrong digest)."""
    root = tmp_path / "charts"
    root.mkdir()
    digests = {}
    for version in ("0.3.0", "0.4.0"):
        data = package(version)
        (root / f"shop-api-{version}.tgz").write_bytes(data)
        digests[version] = hashlib.sha256(data).hexdigest()
    entries = [
        {"name": "shop-api", "version": "0.3.0", "urls": ["shop-api-0.3.0.tgz"], "digest": digests["0.3.0"]},
        {"name": "shop-api", "version": "0.4.0", "urls": ["shop-api-0.4.0.tgz"], "digest": "0" * 64},
    ]
    (root / "index.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "entries": {"shop-api": entries}}))
    handler = partial(SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *_args: None  # type: ignore[attr-defined]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", digests
    finally:
        server.shutdown()
        for digest in digests.values():
            (cache_root() / "charts" / f"{digest}.tgz").unlink(missing_ok=True)


def render(url: str, version: str, *, allow: tuple[str, ...]) -> dict[str, dict[str, object]]:
    sources = f"helm:\n  - repo: {url}\n    chart: shop-api\n    version: {version}\n    values: {{greeting: hi}}\n"
    files = {**MINIMAL, "overlays/dev/sources.yaml": sources}
    workspace = Workspace(snapshot(files), FleetConfig(Path("/credentials"), chart_repositories=allow))
    rendered = workspace.render(workspace.registry.get("dev-1"))
    return {f"{k.kind}/{k.name}": o for k, o in rendered.objects.items()}


def test_a_chart_from_an_allowed_repository_is_verified_rendered_and_cached(
    repository: tuple[str, dict[str, str]],
) -> None:
    url, digests = repository
    objects = render(url, "0.3.0", allow=(url,))
    assert objects["ConfigMap/shop-api-config"]["data"] == {"greeting": "hi"}
    assert "CustomResourceDefinition/shopwidgets.shop.example.com" in objects
    assert (cache_root() / "charts" / f"{digests['0.3.0']}.tgz").read_bytes() == package("0.3.0")


def test_a_package_that_does_not_match_the_index_digest_is_refused(repository: tuple[str, dict[str, str]]) -> None:
    url, _ = repository
    with pytest.raises(InputError, match=r"shop-api 0\.4\.0: the package's sha256 .* does not match the index's"):
        render(url, "0.4.0", allow=(url,))


def test_only_repositories_the_hub_config_allows_are_fetched(repository: tuple[str, dict[str, str]]) -> None:
    url, _ = repository
    with pytest.raises(
        InputError, match=r"overlays/dev/sources.yaml \(cluster dev-1\): chart repository .* not allowed"
    ):
        render(url, "0.3.0", allow=())
    with pytest.raises(InputError, match=r"chart shop-api 9\.9\.9: not in .*/index.yaml"):
        render(url, "9.9.9", allow=(url,))
    with pytest.raises(
        InputError, match=r"field 'helm\[0\]\.version' \(cluster dev-1\): must be the chart's exact version"
    ):
        render(url, "^0.3", allow=(url,))


@pytest.mark.parametrize(
    "index",
    ["entries: [1, 2]\n", "- a list\n", "entries: {shop-api: {version: 0.3.0}}\n", "entries: {shop-api: [7]}\n"],
)
def test_an_index_of_any_shape_is_one_clean_error(tmp_path: Path, index: str) -> None:
    (tmp_path / "index.yaml").write_text(index)
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *_args: None  # type: ignore[attr-defined]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with pytest.raises(InputError, match=r"\(cluster dev-1\): chart shop-api 0\.3\.0: not in .*/index\.yaml"):
            render(url, "0.3.0", allow=(url,))
    finally:
        server.shutdown()
