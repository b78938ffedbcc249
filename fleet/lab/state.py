"""The lab's state file: ports and nodes per cluster. Written atomically; the only source of flags."""

from __future__ import annotations

import json
import os
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fleet.errors import LabError
from fleet.lab.topology import ClusterSpec, NodeSpec
from fleet.lab.versions import KUBERNETES_VERSION

FORMAT = 1


def free_port(taken: set[int]) -> int:
    """A port the kernel says is free now, distinct from ``taken`` (ports this lab already assigned)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in taken:
            taken.add(port)
            return port
    raise LabError("could not find a free TCP port on 127.0.0.1")


@dataclass
class ClusterState:
    name: str
    port: int
    nodes: list[NodeSpec]
    kubernetes_version: str = KUBERNETES_VERSION

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.port}"


@dataclass
class LabState:
    etcd_client_port: int
    etcd_peer_port: int
    clusters: dict[str, ClusterState] = field(default_factory=dict)

    def ports(self) -> set[int]:
        return {self.etcd_client_port, self.etcd_peer_port} | {c.port for c in self.clusters.values()}

    def add(self, spec: ClusterSpec) -> ClusterState:
        if spec.name not in self.clusters:
            port = free_port(self.ports())
            self.clusters[spec.name] = ClusterState(spec.name, port, list(spec.nodes), spec.kubernetes_version)
        return self.clusters[spec.name]

    @classmethod
    def new(cls) -> LabState:
        taken: set[int] = set()
        return cls(free_port(taken), free_port(taken))

    def save(self, path: Path) -> None:
        payload = {
            "format": FORMAT,
            "etcd": {"client_port": self.etcd_client_port, "peer_port": self.etcd_peer_port},
            "clusters": {
                name: {"port": c.port, "nodes": [asdict(n) for n in c.nodes], "kubernetesVersion": c.kubernetes_version}
                for name, c in self.clusters.items()
            },
        }
        partial = path.with_suffix(".partial")
        partial.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
        os.replace(partial, path)

    @classmethod
    def load(cls, path: Path) -> LabState | None:
        try:
            payload = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (json.JSONDecodeError, OSError) as exc:
            raise LabError(f"{path}: unreadable lab state ({exc}); run `fleet lab down` to start afresh") from None
        if payload.get("format") != FORMAT:
            raise LabError(f"{path}: lab state of another format; run `fleet lab down` to start afresh")
        state = cls(payload["etcd"]["client_port"], payload["etcd"]["peer_port"])
        for name, raw in payload["clusters"].items():
            nodes = [NodeSpec(n["name"], dict(n["labels"])) for n in raw["nodes"]]
            version = str(raw.get("kubernetesVersion") or KUBERNETES_VERSION)
            state.clusters[name] = ClusterState(name, int(raw["port"]), nodes, version)
        return state
