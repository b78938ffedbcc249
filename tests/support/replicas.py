"""A management cluster and workload clusters for the hub's replica tests, with the apiservers' audit logs
on (who wrote what, by User-Agent), and the hub's ServiceAccount made from deploy/ exactly as a user
would apply it."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes_asyncio import client

from fleet.errors import FleetError
from fleet.kube.client import api_client
from fleet.lab.build import missing_binaries
from fleet.lab.local import ClusterEndpoint, LocalLab
from fleet.lab.topology import ClusterSpec
from fleet.lab.versions import KUBERNETES_VERSION, bin_dir
from tests.support.lab import lab_unavailable

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
HUB_NAMESPACE = "fleet-hub"
HUB_ACCOUNT = "fleet-hub"


@dataclass
class AuditedLab:
    lab: LocalLab
    endpoints: dict[str, ClusterEndpoint]

    def kubeconfig(self, cluster: str) -> Path:
        return self.endpoints[cluster].kubeconfig

    def writes(self, cluster: str) -> list[dict[str, Any]]:
        """The cluster's audited writes (create, update, patch, delete), oldest first."""
        path = self.lab.paths.audit_log(cluster)
        if not path.exists():
            return []
        events = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        return [e for e in events if e.get("stage") == "ResponseComplete"]

    def kubectl(self, cluster: str, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(bin_dir() / "kubectl"), f"--kubeconfig={self.kubeconfig(cluster)}", *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def start_audited_lab(root: Path, names: list[str]) -> Iterator[AuditedLab]:
    """Apiserver-only clusters (no controllers: quick to start, and no writes but the test's and fleet's)."""
    missing = missing_binaries(versions=(KUBERNETES_VERSION,))
    if missing:
        lab_unavailable("binaries not built: " + ", ".join(b.name for b in missing))
    lab = LocalLab(root, audit=True)
    try:
        endpoints = asyncio.run(lab.up([ClusterSpec(n, ()) for n in names], log=lambda _m: None))
    except FleetError as exc:
        lab.down()
        lab_unavailable(str(exc))
        raise
    except BaseException:
        lab.down()
        raise
    try:
        yield AuditedLab(lab, {e.name: e for e in endpoints})
    finally:
        # The audit logs outlive the lab, beside it: what a failed run did is read there.
        for log in lab.paths.logs.glob("*.audit.log"):
            shutil.copy(log, root.parent / log.name)
        lab.down()


def deploy_objects(kind: str | None = None) -> list[dict[str, Any]]:
    """The objects of deploy/ (as `kubectl apply -k deploy/` would send them), optionally of one kind."""
    objects: list[dict[str, Any]] = []
    for name in yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())["resources"]:
        objects += [o for o in yaml.safe_load_all((DEPLOY / name).read_text()) if o]
    return [o for o in objects if kind is None or o["kind"] == kind]


async def hub_service_account_kubeconfig(lab: AuditedLab, management: str, path: Path) -> Path:
    """Apply deploy/'s Namespace and RBAC to the management cluster, and write a kubeconfig that acts as
    the hub's ServiceAccount (a TokenRequest token): the hubs get exactly deploy/'s permissions."""
    rbac = [o for o in deploy_objects() if o["kind"] in ("Namespace", "ServiceAccount", "Role", "RoleBinding")]
    manifest = path.parent / "hub-rbac.yaml"
    manifest.write_text(yaml.safe_dump_all(rbac))
    applied = lab.kubectl(management, "apply", "--server-side", f"--filename={manifest}")
    assert applied.returncode == 0, applied.stderr
    async with _api(lab, management) as api:
        answer = await client.CoreV1Api(api).create_namespaced_service_account_token(
            HUB_ACCOUNT, HUB_NAMESPACE, {"spec": {"audiences": [], "expirationSeconds": 7200}}
        )
    admin = yaml.safe_load(lab.kubeconfig(management).read_text())
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": management, "cluster": admin["clusters"][0]["cluster"]}],
        "users": [{"name": HUB_ACCOUNT, "user": {"token": answer.status.token}}],
        "contexts": [{"name": management, "context": {"cluster": management, "user": HUB_ACCOUNT}}],
        "current-context": management,
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


async def credentials_secret(lab: AuditedLab, management: str, cluster: str, name: str, *, marked: bool) -> None:
    """``cluster``'s kubeconfig as a Secret of the hub's namespace (``marked``: with the credentials label)."""
    labels = {"fleet.dev/credentials": "kubeconfig"} if marked else {}
    data = base64.b64encode(lab.kubeconfig(cluster).read_bytes()).decode()
    body = {"metadata": {"name": name, "labels": labels}, "type": "Opaque", "data": {"kubeconfig": data}}
    async with _api(lab, management) as api:
        await client.CoreV1Api(api).create_namespaced_secret(HUB_NAMESPACE, body)


class _api:
    def __init__(self, lab: AuditedLab, cluster: str) -> None:
        self.lab, self.cluster = lab, cluster

    async def __aenter__(self) -> client.ApiClient:
        self.api = await api_client(self.lab.kubeconfig(self.cluster), self.cluster)
        return self.api

    async def __aexit__(self, *_exc: object) -> None:
        await self.api.close()


def admin_api(lab: AuditedLab, cluster: str) -> _api:
    return _api(lab, cluster)


@dataclass
class HubProcess:
    identity: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def events(self) -> list[dict[str, Any]]:
        lines = self.log.read_text(errors="replace").splitlines() if self.log.exists() else []
        out = []
        for line in lines:
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    continue
        return out

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def start_hub(
    *,
    identity: str,
    repo: Path,
    port: int,
    management: Path,
    config: Path,
    work: Path,
    self_heal: str,
    lease: tuple[str, str] = ("6s", "1s"),
    token: str = "replica-test-token",
) -> HubProcess:
    log = work / f"{identity}.log"
    token_file = work / "hub-token"
    token_file.write_text(token)
    command = [
        sys.executable,
        "-m",
        "fleet",
        "hub",
        f"--repo={repo}",
        "--interval=3s",
        f"--listen=127.0.0.1:{port}",
        f"--management-kubeconfig={management}",
        f"--namespace={HUB_NAMESPACE}",
        f"--identity={identity}",
        f"--self-heal={self_heal}",
        f"--config={config}",
        f"--state-dir={work / identity}",
        "--log-format=json",
        f"--lease-duration={lease[0]}",
        f"--lease-renew={lease[1]}",
        f"--token-file={token_file}",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEET_")}
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    return HubProcess(identity, f"http://127.0.0.1:{port}", process, log)
