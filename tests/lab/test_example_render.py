"""The example fleet of clusters/ and overlays/ renders byte-identical to its golden file, templates, the
Helm chart and the Kustomize overlay together (a lab test because it needs the pinned helm and kubectl
that `fleet lab build` builds; it starts no cluster)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from fleet.cli import cli

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden" / "example-fleet.yaml"


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_example_fleet_renders_byte_identical_to_the_golden_file() -> None:
    """If this fails after an intended change to overlays/, regenerate the golden file with
    `fleet render --local > tests/golden/example-fleet.yaml` and review the diff."""
    code, out, _ = invoke("render", "--repo", str(ROOT), "--local")
    assert code == 0
    assert out == GOLDEN.read_text()


def test_example_fleet_env_differences() -> None:
    code, out, _ = invoke("render", "--repo", str(ROOT), "--local", "-o", "json", "--env", "dev,prod")
    assert code == 0
    items = json.loads(out)["items"]
    replicas = {
        i["metadata"]["labels"]["fleet.dev/cluster"]: i["spec"]["replicas"]
        for i in items
        if i["kind"] == "Deployment" and i["metadata"]["name"] == "shop"
    }
    assert replicas == {"dev-1": 1, "prod-eu-1": 3, "prod-us-1": 3}
    ports = [
        [p["name"] for p in i["spec"]["ports"]]
        for i in items
        if i["kind"] == "Service"
        and i["metadata"]["name"] == "shop"
        and i["metadata"]["labels"]["fleet.dev/env"] == "prod"
    ]
    assert ports == [["http", "metrics"], ["http", "metrics"]]


def test_example_fleet_renders_its_chart_and_kustomize_overlay_per_env() -> None:
    code, out, err = invoke("render", "--repo", str(ROOT), "--local", "-o", "json")
    assert code == 0, err
    items = json.loads(out)["items"]

    def of(kind: str, name: str) -> dict[str, dict[str, object]]:
        return {
            i["metadata"]["labels"]["fleet.dev/cluster"]: i
            for i in items
            if i["kind"] == kind and i["metadata"]["name"] == name
        }

    themes = {c: o["data"]["theme"] for c, o in of("ConfigMap", "storefront").items()}  # type: ignore[index]
    assert themes == {"dev-1": "light", "staging-1": "light", "prod-eu-1": "dark", "prod-us-1": "dark"}
    api = of("Deployment", "shop-api")
    assert {c: o["spec"]["replicas"] for c, o in api.items()} == {  # type: ignore[index]
        "dev-1": 1,
        "staging-1": 2,
        "prod-eu-1": 3,
        "prod-us-1": 3,
    }
    assert set(of("CustomResourceDefinition", "carts.shop.fleet.dev")) == {
        "dev-1",
        "staging-1",
        "prod-eu-1",
        "prod-us-1",
    }
    assert not of("Pod", "shop-api-test-connection")  # the chart's test hook is left out
    assert "hook Pod/shop-api-test-connection (test) left out" in err
