"""Helm charts and Kustomize directories as sources, rendered by the real, pinned tools and synced to real
clusters exactly as templates are: Healthy, zero drift, a second sync writes nothing; bad input is one
line naming the file and the cluster, and changes nothing anywhere."""

from __future__ import annotations

import asyncio
from pathlib import Path

from click.testing import CliRunner
from kubernetes_asyncio import client

from fleet.cli import cli
from fleet.model.changeset import Action, ChangeSet
from fleet.model.cluster import Selection
from fleet.model.health import Code
from fleet.workflows.status import fleet_report
from tests.support.charts import CHART, CHART_FILES, KUSTOMIZE_FILES, kustomize_overlay, sources
from tests.support.lab import LabSession
from tests.support.labrepo import FleetRepo

KUSTOMIZE_BASE = "kustomize:\n  - path: ../base/kustomize\n"


def with_sources(fleet: FleetRepo, **options: object) -> None:
    fleet.commit(
        {
            **CHART_FILES,
            **KUSTOMIZE_FILES,
            **kustomize_overlay("dev", "dev"),
            "overlays/dev/sources.yaml": sources(**options),  # type: ignore[arg-type]
        },
        "chart and kustomization",
    )


def invoke(fleet: FleetRepo, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [*args, "--repo", str(fleet.root)], env=fleet.cli_env())
    return result.exit_code, result.stdout, result.stderr


async def test_a_chart_and_a_kustomization_sync_to_healthy_with_zero_drift(dev_only: FleetRepo) -> None:
    fleet = dev_only
    with_sources(fleet)
    first = (await fleet.sync(wait=True, wait_timeout=90))["dev-1"]
    assert first.matches_git and first.health.code is Code.HEALTHY, (first.error, first.health)
    made = {(c.key.kind, c.key.name): c.action for c in first.changes}
    assert made[("CustomResourceDefinition", "shopwidgets.shop.example.com")] is Action.CREATED
    for kind, name in [
        ("Deployment", "shop-api"),
        ("Service", "shop-api"),
        ("ConfigMap", "shop-api-config"),
        ("ShopWidget", "shop-api-widget"),
        ("ConfigMap", "kz-settings"),
    ]:
        assert made[(kind, name)] is Action.CREATED, (kind, name)
    assert ("Pod", "shop-api-test") not in made  # a test hook is not applied
    assert ("HorizontalPodAutoscaler", "shop-api") not in made  # the chart's default leaves it out

    async with fleet.lab.api("dev-1") as api:
        core = client.CoreV1Api(api)
        settings = await core.read_namespaced_config_map("kz-settings", fleet.namespace)
        assert settings.data == {"mode": "dev", "size": "small"}  # the env's kustomize patch over its base
        deployment = await client.AppsV1Api(api).read_namespaced_deployment("shop-api", fleet.namespace)
        assert deployment.spec.template.spec.containers[0].image == "registry.example/shop-api:1"  # values.tag
        assert deployment.metadata.labels["app.kubernetes.io/managed-by"] == "fleet"

    second = (await fleet.sync())["dev-1"]
    assert second.writes == 0, [(str(c.key), c.action) for c in second.changes if c.action is not Action.UNCHANGED]
    workspace = fleet.workspace()
    rendered = await asyncio.to_thread(workspace.render_all, workspace.select(Selection()))
    report = await fleet_report(rendered, fleet.config, inventory_name=fleet.inventory)
    assert [len(c.drift) for c in report.clusters] == [0], [i.to_dict() for c in report.clusters for i in c.drift]

    # A changed value reaches the chart: only the chart's ConfigMap changes.
    fleet.commit({"overlays/dev/sources.yaml": sources(greeting="bonjour")})
    third = (await fleet.sync())["dev-1"]
    changed = {(c.key.kind, c.key.name) for c in third.changes if c.action is Action.CONFIGURED}
    assert changed == {("ConfigMap", "shop-api-config"), ("ShopWidget", "shop-api-widget")}, changed


async def test_render_names_the_hooks_it_leaves_out(dev_only: FleetRepo) -> None:
    with_sources(dev_only)
    code, out, err = await asyncio.to_thread(invoke, dev_only, "render", "--cluster", "dev-1")
    assert code == 0, err
    assert "name: shop-api-config" in out and "name: kz-settings" in out
    assert (
        "note (dev-1): overlays/dev/sources.yaml: helm chart overlays/base/charts/shop-api: hook Pod/shop-api-test"
        in err
    )


async def test_a_broken_chart_is_one_line_naming_file_and_cluster_and_changes_nothing(dev_only: FleetRepo) -> None:
    fleet = dev_only
    with_sources(fleet, kustomize=False)
    assert (await fleet.sync())["dev-1"].matches_git
    fleet.commit({f"{CHART}/templates/configmap.yaml": "{{ .Values.greeting | nosuchfunction }}\n"}, "broken")
    code, out, err = await asyncio.to_thread(invoke, fleet, "sync")
    assert code == 2, (out, err)
    [line] = err.strip().splitlines()
    assert line.startswith("error: overlays/dev/sources.yaml (cluster dev-1): helm template failed:"), line
    assert "nosuchfunction" in line and "Traceback" not in err
    # nothing was applied: the live ConfigMap is the one of the last good commit
    async with fleet.lab.api("dev-1") as api:
        live = await client.CoreV1Api(api).read_namespaced_config_map("shop-api-config", fleet.namespace)
    assert live.data == {"greeting": "hello"}


async def test_a_remote_kustomize_base_is_refused_by_name(dev_only: FleetRepo) -> None:
    fleet = dev_only
    with_sources(fleet)
    remote = "resources:\n  - https://raw.githubusercontent.com/example/app/main/deploy.yaml\n"
    fleet.commit({"overlays/dev/kustomize/kustomization.yaml": remote})
    code, _out, err = await asyncio.to_thread(invoke, fleet, "render")
    assert code == 2
    assert "overlays/dev/kustomize/kustomization.yaml, field 'resources' (cluster dev-1): remote resources" in err


async def test_a_chart_and_kustomize_bump_is_promoted_dev_to_staging_to_prod_changing_only_their_objects(
    tmp_path: Path, lab_session: LabSession
) -> None:
    envs = {"dev-1": "dev", "staging-1": "staging", "prod-eu-1": "prod"}
    fleet = FleetRepo(tmp_path / "repo", lab_session, envs)
    env_sources = {f"overlays/{env}/sources.yaml": sources(kustomize=False) + KUSTOMIZE_BASE for env in envs.values()}
    first = fleet.commit({**CHART_FILES, **KUSTOMIZE_FILES, **env_sources}, "the shop-api chart and a kustomization")
    pins = {f"overlays/{env}/release.yaml": f"revision: {first}\n" for env in ("staging", "prod")}
    fleet.commit({"overlays/dev/release.yaml": "revision: HEAD\n", **pins}, "pins")
    synced = await fleet.sync(wait=True, wait_timeout=90)
    assert all(cs.matches_git for cs in synced.values()), {n: cs.error for n, cs in synced.items()}

    # The bump lands in overlays/base: the chart's version and a template, and the kustomize base.
    bump = CHART_FILES[f"{CHART}/templates/configmap.yaml"] + "  chart: {{ .Chart.Version | quote }}\n"
    chart_yaml = CHART_FILES[f"{CHART}/Chart.yaml"].replace("version: 0.3.0", "version: 0.4.0")
    settings = KUSTOMIZE_FILES["overlays/base/kustomize/settings.yaml"].replace("size: small", "size: large")
    fleet.commit(
        {
            f"{CHART}/templates/configmap.yaml": bump,
            f"{CHART}/Chart.yaml": chart_yaml,
            "overlays/base/kustomize/settings.yaml": settings,
        },
        "shop-api 0.4.0, large storefront",
    )
    expected = {f"ConfigMap/{fleet.namespace}/shop-api-config", f"ConfigMap/{fleet.namespace}/kz-settings"}

    def changed(results: dict[str, ChangeSet]) -> dict[str, set[str]]:
        return {n: {str(c.key) for c in cs.changes if c.action is not Action.UNCHANGED} for n, cs in results.items()}

    assert changed(await fleet.sync(wait=True, wait_timeout=90)) == {
        "dev-1": expected,
        "staging-1": set(),  # the pins hold the later envs on the first revision
        "prod-eu-1": set(),
    }
    for source, target, cluster in (("dev", "staging", "staging-1"), ("staging", "prod", "prod-eu-1")):
        code, out, err = await asyncio.to_thread(invoke, fleet, "promote", "--from", source, "--to", target)
        assert code == 0, out + err
        assert f"promoted {source} -> {target}" in out
        after = changed(await fleet.sync(wait=True, wait_timeout=90))
        assert after[cluster] == expected, after  # exactly the chart's and the kustomization's objects
        assert not any(after[c] for c in envs if c != cluster), after
        async with fleet.lab.api(cluster) as api:
            core = client.CoreV1Api(api)
            chart_config = await core.read_namespaced_config_map("shop-api-config", fleet.namespace)
            kz = await core.read_namespaced_config_map("kz-settings", fleet.namespace)
        assert chart_config.data == {"greeting": "hello", "chart": "0.4.0"}
        assert kz.data == {"mode": "base", "size": "large"}
