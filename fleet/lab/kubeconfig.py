"""Kubeconfig files for the lab: one per cluster (context named after it) and a combined one."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import yaml

from fleet.lab.pki import CertPair


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def entry(*, cluster: str, server: str, ca: Path, client: CertPair, user: str) -> dict[str, Any]:
    """One cluster/user/context triple; credentials embedded so the file stands alone."""
    return {
        "cluster": {"name": cluster, "cluster": {"server": server, "certificate-authority-data": _b64(ca)}},
        "user": {
            "name": user,
            "user": {
                "client-certificate-data": _b64(client.cert),
                "client-key-data": _b64(client.key),
            },
        },
        "context": {"name": cluster, "context": {"cluster": cluster, "user": user}},
    }


def document(entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [e["cluster"] for e in entries],
        "users": [e["user"] for e in entries],
        "contexts": [e["context"] for e in entries],
        "current-context": entries[0]["context"]["name"] if entries else "",
    }


def write(path: Path, entries: list[dict[str, Any]]) -> None:
    """Written private (0600) and atomically: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        yaml.safe_dump(document(entries), handle, sort_keys=False)
    partial.replace(path)
