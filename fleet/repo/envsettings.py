"""An env's rollout and promotion settings: ``overlays/<env>/env.yaml`` (optional).

    rollout:
      waveTimeout: 300       # seconds a wave may take to become Healthy before the rollout halts
      autoRollback: false    # the hub commits a rollback of the env's pin when a wave halts
    gates:
      minSoakSeconds: 0      # promotion from this env needs its clusters unchanged at least this long

Clusters of an env roll out in waves by their ``wave`` label (1, 2, ...; no label is wave 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fleet.errors import RenderError
from fleet.model.vocabulary import OVERLAYS
from fleet.repo.source import Snapshot
from fleet.yamlio import load_one

MAX_SECONDS = 366 * 24 * 3600  # a year: larger values are mistakes, and would overflow timers
KNOWN = {"rollout": {"waveTimeout", "autoRollback"}, "gates": {"minSoakSeconds"}}


@dataclass(frozen=True)
class EnvSettings:
    wave_timeout: float = 300.0
    auto_rollback: bool = False
    min_soak_seconds: float = 0.0


def env_settings(snapshot: Snapshot, env: str) -> EnvSettings:
    path = f"{OVERLAYS}/{env}/env.yaml"
    if not snapshot.exists(path):
        return EnvSettings()
    data = load_one(snapshot.text(path), path, error=RenderError) or {}
    if not isinstance(data, dict):
        raise RenderError("must be a mapping", path=path)
    for section, value in data.items():
        if section not in KNOWN:
            raise RenderError(f"unknown section; known: {', '.join(sorted(KNOWN))}", path=path, field=str(section))
        if not isinstance(value, dict):
            raise RenderError("must be a mapping", path=path, field=str(section))
        for key in value:
            if key not in KNOWN[section]:
                raise RenderError(
                    f"unknown key; known: {', '.join(sorted(KNOWN[section]))}", path=path, field=f"{section}.{key}"
                )
    rollout: dict[str, Any] = data.get("rollout") or {}
    gates: dict[str, Any] = data.get("gates") or {}

    def number(section: dict[str, Any], key: str, default: float, where: str) -> float:
        value = section.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= MAX_SECONDS:
            raise RenderError(f"must be a number of seconds from 0 to {MAX_SECONDS}", path=path, field=where)
        return float(value)

    auto = rollout.get("autoRollback", False)
    if not isinstance(auto, bool):
        raise RenderError("must be true or false", path=path, field="rollout.autoRollback")
    return EnvSettings(
        wave_timeout=number(rollout, "waveTimeout", 300.0, "rollout.waveTimeout"),
        auto_rollback=auto,
        min_soak_seconds=number(gates, "minSoakSeconds", 0.0, "gates.minSoakSeconds"),
    )
