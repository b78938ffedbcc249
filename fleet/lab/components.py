"""Command lines of the lab's processes, derived from the lab state alone.

Nothing here is stored: a component restarted after a crash gets exactly the flags it had, because they
are computed again from the ports and paths in the state file.

Longer than fleet's ~300-line guide on purpose: one function a component (etcd, apiserver, controller
manager, scheduler, kwok), each the flags upstream documents; kept side by side for review against them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fleet.lab.procs import ProcessSpec

SERVICE_CIDR = "10.0.0.0/24"
POD_CIDR = "10.244.0.0/16"
CONTROL_PLANE = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")


@dataclass(frozen=True)
class LabPaths:
    root: Path

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    @property
    def lock(self) -> Path:
        return self.root / "lab.lock"

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def etcd_data(self) -> Path:
        return self.root / "etcd"

    @property
    def kubeconfigs(self) -> Path:
        return self.root / "kubeconfigs"

    def kubeconfig(self, cluster: str) -> Path:
        return self.kubeconfigs / f"{cluster}.kubeconfig"

    @property
    def combined_kubeconfig(self) -> Path:
        return self.kubeconfigs / "all.kubeconfig"

    def component_kubeconfig(self, cluster: str, component: str) -> Path:
        return self.root / "components" / cluster / f"{component}.kubeconfig"

    def work_dir(self, cluster: str, component: str) -> Path:
        return self.root / "components" / cluster / component

    def log(self, process: str) -> Path:
        return self.logs / f"{process}.log"

    @property
    def audit_policy(self) -> Path:
        """Present when the lab audits writes (``LocalLab(audit=True)``): every apiserver then logs who
        wrote what, by user and User-Agent, to ``audit_log(cluster)``."""
        return self.root / "audit-policy.yaml"

    def audit_log(self, cluster: str) -> Path:
        return self.logs / f"{cluster}.audit.log"


def process_name(cluster: str, component: str) -> str:
    return f"{cluster}.{component}"


def etcd_spec(paths: LabPaths, bin_dir: Path, *, client_port: int, peer_port: int) -> ProcessSpec:
    # One etcd per lab, shared by its clusters under distinct prefixes: one process instead of one per
    # cluster (etcd is the one component whose memory does not grow with a cluster's objects much).
    client_url = f"http://127.0.0.1:{client_port}"
    peer_url = f"http://127.0.0.1:{peer_port}"
    return ProcessSpec(
        "etcd",
        (
            str(bin_dir / "etcd"),
            "--name=fleet-lab",
            f"--data-dir={paths.etcd_data}",
            f"--listen-client-urls={client_url}",
            f"--advertise-client-urls={client_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=fleet-lab={peer_url}",
            "--unsafe-no-fsync=true",
            "--quota-backend-bytes=8589934592",
            "--log-level=warn",
        ),
        paths.log("etcd"),
        (("GOMEMLIMIT", "512MiB"),),
    )


AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  # The lab's own components write all the time (node heartbeats, controllers): not what a test asks about.
  - level: None
    userGroups: ["system:nodes"]
  - level: None
    users: ["system:kube-controller-manager", "system:kube-scheduler", "system:apiserver"]
  - level: Metadata
    verbs: ["create", "update", "patch", "delete", "deletecollection"]
  - level: None
"""


def _audit_flags(paths: LabPaths, cluster: str) -> tuple[str, ...]:
    if not paths.audit_policy.exists():
        return ()
    return (
        f"--audit-policy-file={paths.audit_policy}",
        f"--audit-log-path={paths.audit_log(cluster)}",
        "--audit-log-format=json",
        "--audit-log-mode=blocking",  # written before the response: a test reading it sees every write
    )


def apiserver_spec(paths: LabPaths, bin_dir: Path, *, cluster: str, port: int, etcd_port: int) -> ProcessSpec:
    pki = paths.pki
    return ProcessSpec(
        process_name(cluster, "kube-apiserver"),
        (
            str(bin_dir / "kube-apiserver"),
            f"--etcd-servers=http://127.0.0.1:{etcd_port}",
            f"--etcd-prefix=/fleet-lab/{cluster}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={port}",
            f"--cert-dir={paths.work_dir(cluster, 'kube-apiserver')}",
            f"--tls-cert-file={pki / 'apiserver.crt'}",
            f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--client-ca-file={pki / 'ca.crt'}",
            f"--service-account-issuer=https://127.0.0.1:{port}",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            # Upstream defaults everywhere else (API Priority and Fairness, every default admission plugin,
            # ServiceAccount included). The deviations, each listed in the README with its reason:
            # as kubeadm and kind set them (the upstream defaults are AlwaysAllow and no privileged pods):
            "--authorization-mode=Node,RBAC",
            "--allow-privileged=true",
            # every lab apiserver advertises 127.0.0.1, which an Endpoints object may not hold:
            "--endpoint-reconciler-type=none",
            *_audit_flags(paths, cluster),
        ),
        paths.log(process_name(cluster, "kube-apiserver")),
        (("GOMEMLIMIT", "1GiB"),),
    )


def controller_manager_spec(paths: LabPaths, bin_dir: Path, *, cluster: str) -> ProcessSpec:
    pki = paths.pki
    kubeconfig = paths.component_kubeconfig(cluster, "kube-controller-manager")
    return ProcessSpec(
        process_name(cluster, "kube-controller-manager"),
        (
            str(bin_dir / "kube-controller-manager"),
            f"--kubeconfig={kubeconfig}",
            f"--cluster-name={cluster}",
            # one instance per cluster: no leader election to wait for, no serving port to allocate
            "--leader-elect=false",
            "--secure-port=0",
            f"--service-account-private-key-file={pki / 'sa.key'}",
            f"--root-ca-file={pki / 'ca.crt'}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
        ),
        paths.log(process_name(cluster, "kube-controller-manager")),
        (("GOMEMLIMIT", "256MiB"),),
    )


def scheduler_spec(paths: LabPaths, bin_dir: Path, *, cluster: str) -> ProcessSpec:
    kubeconfig = paths.component_kubeconfig(cluster, "kube-scheduler")
    return ProcessSpec(
        process_name(cluster, "kube-scheduler"),
        (
            str(bin_dir / "kube-scheduler"),
            f"--kubeconfig={kubeconfig}",
            # one instance per cluster: no leader election to wait for, no serving port to allocate
            "--leader-elect=false",
            "--secure-port=0",
        ),
        paths.log(process_name(cluster, "kube-scheduler")),
        (("GOMEMLIMIT", "256MiB"),),
    )


def kwok_spec(paths: LabPaths, bin_dir: Path, *, cluster: str) -> ProcessSpec:
    kubeconfig = paths.component_kubeconfig(cluster, "kwok")
    return ProcessSpec(
        process_name(cluster, "kwok"),
        (
            str(bin_dir / "kwok"),
            f"--kubeconfig={kubeconfig}",
            f"--config={paths.root / 'kwok.yaml'}",
            "--manage-all-nodes=true",
            f"--cidr={POD_CIDR}",
            "--node-ip=10.1.0.1",
            "--node-lease-duration-seconds=40",
        ),
        paths.log(process_name(cluster, "kwok")),
        (("GOMEMLIMIT", "256MiB"),),
    )


# kwok only does what its stages say. Four small stages are enough for the lab: a new node becomes Ready,
# Ready nodes keep heartbeating (so the node lifecycle controller never taints them), a scheduled pod
# becomes Running and Ready, and a pod marked for deletion goes away (there is no kubelet to do it).
KWOK_CONFIG = """\
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
options:  # kwok applies no defaults to a configuration file: every parallelism must be set
  podPlayStageParallelism: 4
  nodePlayStageParallelism: 4
  nodeLeaseParallelism: 4
  podsOnNodeSyncParallelism: 1
  enablePodsOnNodeSyncListPager: true
  enablePodsOnNodeSyncStreamWatch: true
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: lab-node-ready
spec:
  resourceRef: {apiGroup: v1, kind: Node}
  selector:
    matchExpressions:
      - key: '.status.conditions.[] | select( .type == "Ready" ) | .status'
        operator: NotIn
        values: ["True"]
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      {{ range NodeConditions }}
      - lastHeartbeatTime: {{ $now | Quote }}
        lastTransitionTime: {{ $now | Quote }}
        message: {{ .message | Quote }}
        reason: {{ .reason | Quote }}
        status: {{ .status | Quote }}
        type: {{ .type | Quote }}
      {{ end }}
      addresses:
      - address: {{ NodeIP | Quote }}
        type: InternalIP
      - address: {{ NodeName | Quote }}
        type: Hostname
      allocatable:
      {{ YAML .status.allocatable 1 }}
      capacity:
      {{ YAML .status.capacity 1 }}
      nodeInfo:
        architecture: amd64
        operatingSystem: linux
        kubeletVersion: fleet-lab
        containerRuntimeVersion: fleet-lab
      phase: Running
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: lab-node-heartbeat
spec:
  resourceRef: {apiGroup: v1, kind: Node}
  selector:
    matchExpressions:
      - key: '.status.conditions.[] | select( .type == "Ready" ) | .status'
        operator: In
        values: ["True"]
  delay:
    durationMilliseconds: 15000
    jitterDurationMilliseconds: 5000
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      {{ range NodeConditions }}
      - lastHeartbeatTime: {{ $now | Quote }}
        lastTransitionTime: {{ $now | Quote }}
        message: {{ .message | Quote }}
        reason: {{ .reason | Quote }}
        status: {{ .status | Quote }}
        type: {{ .type | Quote }}
      {{ end }}
  immediateNextStage: true
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: lab-pod-running
spec:
  resourceRef: {apiGroup: v1, kind: Pod}
  selector:
    matchExpressions:
      - key: .metadata.deletionTimestamp
        operator: DoesNotExist
      - key: .status.phase
        operator: In
        values: [Pending]
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - {lastTransitionTime: {{ $now | Quote }}, status: "True", type: Initialized}
      - {lastTransitionTime: {{ $now | Quote }}, status: "True", type: Ready}
      - {lastTransitionTime: {{ $now | Quote }}, status: "True", type: ContainersReady}
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: true
        restartCount: 0
        started: true
        state:
          running:
            startedAt: {{ $now | Quote }}
      {{ end }}
      {{ with NodeIPWith .spec.nodeName }}
      hostIP: {{ . | Quote }}
      {{ end }}
      {{ with PodIPWith .spec.nodeName false ( or .metadata.uid "" ) .metadata.name .metadata.namespace }}
      podIP: {{ . | Quote }}
      {{ end }}
      phase: Running
      startTime: {{ $now | Quote }}
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: lab-pod-delete
spec:
  resourceRef: {apiGroup: v1, kind: Pod}
  selector:
    matchExpressions:
      - key: .metadata.deletionTimestamp
        operator: Exists
  next:
    delete: true
"""
