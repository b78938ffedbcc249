"""A fleet at mixed Kubernetes versions (the session lab runs v1.36, v1.35 and v1.34): an API version one
cluster does not serve is caught before merge by `fleet render --check` and `fleet plan`, naming the file
and the cluster; a sync of it changes nothing on that cluster while the others proceed; and a template
that branches on `cluster.kubernetesMinor` lets one repository serve the whole fleet."""

from __future__ import annotations

import asyncio
from pathlib import Path

from click.testing import CliRunner
from kubernetes_asyncio import client

from fleet.cli import cli
from tests.support.lab import LabSession
from tests.support.labrepo import FleetRepo

CLUSTERS = {"dev-1": "dev", "prod-eu-1": "prod", "prod-us-1": "prod"}
# MutatingAdmissionPolicy reached admissionregistration.k8s.io/v1 in Kubernetes 1.36.
POLICY = """\
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingAdmissionPolicy
metadata:
  name: team-label-{{ values.namespace }}
spec:
  matchConstraints:
    resourceRules:
      - apiGroups: ["apps"]
        apiVersions: ["v1"]
        operations: ["CREATE"]
        resources: ["deployments"]
  failurePolicy: Ignore
  reinvocationPolicy: Never
  mutations:
    - patchType: ApplyConfiguration
      applyConfiguration:
        expression: >
          Object{metadata: Object.metadata{labels: {"team": "platform"}}}
"""


def invoke(fleet: FleetRepo, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [*args, "--repo", str(fleet.root)], env=fleet.cli_env())
    return result.exit_code, result.stdout + result.stderr


async def color(lab: LabSession, cluster: str, namespace: str) -> str:
    async with lab.api(cluster) as api:
        cm = await client.CoreV1Api(api).read_namespaced_config_map("settings", namespace)
    return str(cm.data["color"])


async def test_an_api_only_newer_clusters_serve_is_caught_and_changes_nothing_on_older_ones(
    tmp_path: Path, lab_session: LabSession
) -> None:
    fleet = FleetRepo(tmp_path / "repo", lab_session, CLUSTERS)
    first = await fleet.sync(wait=True, wait_timeout=120)
    assert all(cs.matches_git for cs in first.values()), {n: cs.error for n, cs in first.items()}
    app = (fleet.root / "overlays/base/app.yaml").read_text()
    fleet.commit({"overlays/base/app.yaml": app.replace("{{ values.color }}", "red"), "overlays/base/p.yaml": POLICY})

    code, out = await asyncio.to_thread(invoke, fleet, "render", "--check")
    assert code == 1, out
    lines = {line.split(":", 1)[0]: line for line in out.splitlines() if line.startswith(("dev-1", "prod-"))}
    assert set(lines) == {"prod-eu-1", "prod-us-1"}, out
    assert "admissionregistration.k8s.io/v1 MutatingAdmissionPolicy" in lines["prod-eu-1"]
    assert "overlays/base/p.yaml" in lines["prod-eu-1"] and "not served by prod-eu-1 (v1.35.4)" in lines["prod-eu-1"]
    assert "not served by prod-us-1 (v1.34.4)" in lines["prod-us-1"]

    code, out = await asyncio.to_thread(invoke, fleet, "plan")
    assert code == 1 and "prod-us-1: error" in out and "dev-1: error" not in out, out

    result = await fleet.sync()
    assert result["dev-1"].matches_git
    for name in ("prod-eu-1", "prod-us-1"):
        assert "nothing changed here" in (result[name].error or ""), result[name].error
    colors = [await color(lab_session, n, fleet.namespace) for n in CLUSTERS]
    assert colors == ["red", "blue", "blue"]  # never half-applied on the older clusters

    # One repository for the mixed fleet: the registry says which minor each cluster runs; the template
    # keeps the policy to the clusters that serve it.
    entries = {
        f"clusters/{name}.yaml": (fleet.root / f"clusters/{name}.yaml").read_text()
        + f"kubernetesVersion: '{lab_session.endpoints[name].kubernetes_version}'\n"
        for name in CLUSTERS
    }
    guarded = "{% if cluster.kubernetesMinor >= 36 %}\n" + POLICY + "{% endif %}\n"
    fleet.commit({**entries, "overlays/base/p.yaml": guarded})
    code, out = await asyncio.to_thread(invoke, fleet, "render", "--check")
    assert code == 0, out
    result = await fleet.sync(wait=True, wait_timeout=120)
    assert all(cs.matches_git for cs in result.values()), {n: cs.error for n, cs in result.items()}
    assert [await color(lab_session, n, fleet.namespace) for n in CLUSTERS] == ["red", "red", "red"]
