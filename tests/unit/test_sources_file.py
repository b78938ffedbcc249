"""sources.yaml: what a base or an env declares besides templates, validated before any tool runs."""

from __future__ import annotations

import pytest

from fleet.errors import RenderError
from fleet.render.sources import HelmSource, KustomizeSource, parse_sources

PATH = "overlays/dev/sources.yaml"


def parse(text: str) -> list[HelmSource | KustomizeSource]:
    return parse_sources(text, PATH, cluster="dev-1", namespace="shop")


def test_charts_and_kustomizations_with_their_defaults() -> None:
    sources = parse(
        "helm:\n"
        "  - chart: charts/shop\n"
        "    values: {replicaCount: 2}\n"
        "  - chart: ../base/charts/db\n"
        "    release: db-main\n"
        "    namespace: data\n"
        "    includeCRDs: false\n"
        "kustomize:\n"
        "  - path: kustomize\n"
    )
    assert sources == [
        HelmSource("overlays/dev/charts/shop", "shop", "shop", True, {"replicaCount": 2}),
        HelmSource("overlays/base/charts/db", "db-main", "data", False, {}),
        KustomizeSource("overlays/dev/kustomize"),
    ]
    [remote] = parse("helm:\n  - {repo: 'https://charts.example.com/', chart: db, version: 1.2.3}\n")
    assert remote == HelmSource("db", "db", "shop", True, {}, "https://charts.example.com/", "1.2.3")


def test_an_empty_file_declares_nothing() -> None:
    assert parse("") == []
    assert parse("helm: []\n") == []


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ("- chart: x\n", None, "must be a mapping with `helm` and/or `kustomize`"),
        ("charts: []\n", "charts", "unknown field; known: helm, kustomize"),
        ("helm: {chart: x}\n", "helm", "must be a list of mappings"),
        ("helm: [{release: x}]\n", "helm[0].chart", "required (a path relative to this file)"),
        ("helm: [{chart: x, valuez: {}}]\n", "helm[0].valuez", "unknown field; known: chart, includeCRDs, "),
        ("helm: [{chart: x, values: [1]}]\n", "helm[0].values", "must be a mapping"),
        ("helm: [{chart: x, includeCRDs: 'yes'}]\n", "helm[0].includeCRDs", "must be true or false"),
        ("helm: [{chart: x, namespace: ''}]\n", "helm[0].namespace", "must be a non-empty string"),
        ("helm: [{chart: /etc}]\n", "helm[0].chart", "'/etc' is not a directory of overlays/"),
        ("helm: [{chart: ../../../etc}]\n", "helm[0].chart", "'../../../etc' is not a directory of overlays/"),
        ("kustomize: [{path: 'https://example.com/k'}]\n", "kustomize[0].path", "is not a directory of overlays/"),
        ("kustomize: [{path: ../../clusters}]\n", "kustomize[0].path", "is not a directory of overlays/"),
        ("helm: [{chart: x, version: 1.0.0}]\n", "helm[0].version", "only with repo"),
        ("helm: [{chart: x, repo: 'oci://r.example/c', version: 1.0.0}]\n", "helm[0].repo", "OCI registries are not"),
        ("helm: [{chart: x, repo: 'https://c.example', version: '~1.0'}]\n", "helm[0].version", "exact version"),
        ("helm: [{chart: x, repo: 'https://c.example'}]\n", "helm[0].version", "exact version"),
        ("helm: [{chart: a/b, repo: 'https://c.example', version: 1.0.0}]\n", "helm[0].chart", "the chart's name"),
    ],
)
def test_bad_declarations_name_the_file_field_and_cluster(text: str, field: str | None, message: str) -> None:
    with pytest.raises(RenderError) as error:
        parse(text)
    assert (error.value.path, error.value.field, error.value.cluster) == (PATH, field, "dev-1")
    assert message in str(error.value)
