from __future__ import annotations

from pathlib import Path

import pytest

from fleet.errors import RegistryError, UsageError
from fleet.model.cluster import Selection
from fleet.repo.registry import load_registry
from fleet.selector import parse_selector
from tests.support.fleetfiles import CONFIG, snapshot

ENVS = ["dev", "staging", "prod"]


def registry(entries: dict[str, str]):  # type: ignore[no-untyped-def]
    return load_registry(snapshot({f"clusters/{k}.yaml": v for k, v in entries.items()}), CONFIG, known_envs=ENVS)


FLEET = {
    "dev-1": "env: dev\nlabels: {region: eu, wave: '1'}\nkubeconfig: dev-1.kubeconfig\n",
    "prod-eu-1": "env: prod\nlabels: {region: eu, wave: '1'}\nkubeconfig: ~/k/prod-eu.kubeconfig\n",
    "prod-us-1": "env: prod\nlabels: {region: us, wave: '2', canary: 'true'}\nkubeconfig: /abs/us.kubeconfig\n",
    "old-1": "env: prod\nlabels: {region: eu}\nkubeconfig: old\nenabled: false\n",
}


def names(selection: Selection) -> list[str]:
    return [c.name for c in registry(FLEET).select(selection)]


def test_kubeconfig_paths_resolve_in_the_credentials_dir_unexpanded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/ops")
    reg = registry(FLEET)
    assert reg.get("dev-1").kubeconfig == Path("/credentials/dev-1.kubeconfig")
    # `~` from Git is a plain directory name: expanding it would read the hub's environment.
    assert reg.get("prod-eu-1").kubeconfig == Path("/credentials/~/k/prod-eu.kubeconfig")
    assert reg.get("prod-us-1").kubeconfig == Path("/abs/us.kubeconfig")


def test_selection_by_name_env_and_selector() -> None:
    assert names(Selection()) == ["dev-1", "prod-eu-1", "prod-us-1"]  # disabled old-1 left out
    assert names(Selection(envs=("prod",))) == ["prod-eu-1", "prod-us-1"]
    assert names(Selection(selector=parse_selector("region=eu,wave in (1,2),!canary"))) == ["dev-1", "prod-eu-1"]
    assert names(Selection(selector=parse_selector("wave notin (1)"))) == ["prod-us-1"]
    assert names(Selection(clusters=("old-1",))) == ["old-1"]  # named explicitly: selected although disabled


def test_unknown_cluster_lists_the_known_ones() -> None:
    with pytest.raises(UsageError, match=r"unknown cluster 'nope'; known clusters: dev-1, old-1, prod-eu-1"):
        names(Selection(clusters=("nope",)))


def test_unknown_env_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"unknown env 'qa'"):
        names(Selection(envs=("qa",)))


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("env: dev\n", r"clusters/c-1.yaml.*field 'kubeconfig': required"),
        ("kubeconfig: k\n", r"field 'env': required"),
        ("env: qa\nkubeconfig: k\n", r"clusters/c-1.yaml:1, field 'env': unknown env 'qa'"),
        ("name: other\nenv: dev\nkubeconfig: k\n", r"field 'name': must match the file name"),
        ("env: dev\nkubeconfig: k\nlabels: {'bad key!': x}\n", r"field 'labels.bad key!'"),
        ("env: dev\nkubeconfig: k\nlabels:\n  region: [eu]\n", r"clusters/c-1.yaml:3, field 'labels.region'"),
        ("env: dev\nkubeconfig: k\nenabled: maybe\n", r"field 'enabled'"),
        ("env: dev\nkubeconfig: k\nkubeconfg: typo\n", r"field 'kubeconfg': unknown field"),
        ("env: dev\nkubeconfig: k\nvalues: [1]\n", r"field 'values': must be a mapping"),
        ("env: dev\n  kubeconfig: k\n", r"clusters/c-1.yaml:2.*invalid YAML"),
        ("- env: dev\n", r"must be a mapping"),
        ("env: dev\nkubeconfig: k\nkubeconfigSecret: s\n", r"field 'kubeconfigSecret': give either kubeconfig"),
        ("env: dev\nkubeconfigSecret: ../etc\n", r"field 'kubeconfigSecret': must be the name of a Secret"),
        ("env: dev\nkubeconfigSecret: [a]\n", r"field 'kubeconfigSecret': must be the name"),
        # Refused by a walk of the parser's events before any recursive composer runs (no RecursionError).
        ("env: dev\nkubeconfig: k\nvalues: " + "{a: " * 3000, r"clusters/c-1.yaml: YAML nested too deeply"),
    ],
)
def test_bad_entries_name_the_file_and_field(text: str, pattern: str) -> None:
    with pytest.raises(RegistryError, match=pattern):
        registry({"c-1": text})


@pytest.mark.parametrize("text", ["region in (eu", "a=b,,c", "=x", "a in ()", "a b"])
def test_bad_selectors_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError, match="invalid selector"):
        parse_selector(text)


def test_one_cluster_in_two_files_is_refused() -> None:
    files = {f"clusters/{name}.yaml": text for name, text in FLEET.items()}
    files["clusters/dev-1.yml"] = FLEET["dev-1"]
    with pytest.raises(
        RegistryError, match=r"'dev-1' is defined twice: in clusters/dev-1.yaml and in clusters/dev-1.yml"
    ):
        load_registry(snapshot(files), CONFIG, known_envs=ENVS)


def test_credentials_can_be_a_secret_of_the_hubs_namespace_instead_of_a_file() -> None:
    cluster = registry({"c-1": "env: dev\nkubeconfigSecret: c-1-kubeconfig\n"}).get("c-1")
    assert cluster.kubeconfig_secret == "c-1-kubeconfig"
