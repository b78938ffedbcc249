"""Charts and kustomizations are untrusted input: a tool run reads nothing outside its private copy, is
stopped by the render's time bound (and dies with its worker), and reaches no network."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from fleet.config import FleetConfig
from fleet.errors import InputError
from fleet.workflows.workspace import Workspace
from tests.support.charts import CHART, CHART_FILES
from tests.support.fleetfiles import MINIMAL, snapshot

LIMITED = FleetConfig(Path("/credentials"), render_timeout=4.0, render_memory_mb=384)
SOURCES = {"overlays/dev/sources.yaml": "helm:\n  - chart: ../base/charts/shop-api\n    release: shop-api\n"}


def workspace(extra: dict[str, str]) -> Workspace:
    return Workspace(snapshot({**MINIMAL, **CHART_FILES, **SOURCES, **extra}), LIMITED)


def helm_processes() -> int:
    found = subprocess.run(["pgrep", "-fc", "helm template shop-api"], capture_output=True, text=True, check=False)
    return int(found.stdout.strip() or 0)


def test_a_chart_reads_only_its_own_files() -> None:
    leak = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: leak}\ndata:\n"
        '  abs: {{ .Files.Get "/etc/passwd" | quote }}\n'
        '  rel: {{ .Files.Get "../../../../../../etc/passwd" | quote }}\n'
    )
    ws = workspace({f"{CHART}/templates/leak.yaml": leak})
    rendered = ws.render(ws.registry.get("dev-1"))
    [configmap] = [o for k, o in rendered.objects.items() if k.name == "leak"]
    assert configmap["data"]["abs"] == "" and configmap["data"]["rel"] == ""


def test_a_chart_that_never_ends_is_stopped_with_its_tool() -> None:
    endless = "{{ range $i := until 2000000000 }}{{ $i }}{{ end }}\n"
    ws = workspace({f"{CHART}/templates/endless.yaml": endless})
    started = time.monotonic()
    with pytest.raises(InputError) as info:
        ws.render(ws.registry.get("dev-1"))
    assert time.monotonic() - started < 30
    message = str(info.value)
    assert "dev-1" in message and ("took longer than 4s" in message or "memory" in message), message
    deadline = time.monotonic() + 10
    while helm_processes() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert helm_processes() == 0  # the tool died with the worker that ran it


def test_a_chart_has_no_network() -> None:
    lookup = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: dns}\n"
        'data: {ip: {{ getHostByName "example.com" | quote }}}\n'
    )
    ws = workspace({f"{CHART}/templates/dns.yaml": lookup})
    try:
        rendered = ws.render(ws.registry.get("dev-1"))
    except InputError as exc:  # helm reports the failed lookup: fine, nothing was resolved
        assert "dev-1" in str(exc)
        return
    [configmap] = [o for k, o in rendered.objects.items() if k.name == "dns"]
    assert configmap["data"]["ip"] == ""


def test_a_kustomization_reads_only_files_of_the_repository() -> None:
    generator = "configMapGenerator:\n  - name: leak\n    files: [../../../../../../../../etc/passwd]\n"
    ws = workspace(
        {
            "overlays/dev/sources.yaml": "kustomize:\n  - path: kustomize\n",
            "overlays/dev/kustomize/kustomization.yaml": generator,
        }
    )
    with pytest.raises(InputError) as info:
        ws.render(ws.registry.get("dev-1"))
    message = str(info.value)
    assert message.startswith("overlays/dev/sources.yaml (cluster dev-1): kustomize build failed:"), message
    assert "root:" not in message
