"""Waves inside an env: a new release pin goes to the clusters of wave 1 first; once they are all Synced
and Healthy at it, wave 2 gets it, and so on. A wave that turns Degraded, or is not Healthy within the
env's waveTimeout, halts the rollout; with ``autoRollback`` the hub then commits a rollback of the env's
pin (an ordinary commit, pushed, never forced) and reports why.

Pure bookkeeping: the hub feeds it reports and asks it which pin a cluster may run."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from fleet.model.health import Code
from fleet.model.promotion import Pin
from fleet.model.report import ClusterReport, SyncState
from fleet.repo.envsettings import EnvSettings


@dataclass
class Rollout:
    env: str
    target: bytes  # the env's release.yaml being rolled out
    previous: bytes  # what it replaces (what a rollback restores)
    target_release: dict[str, Any]  # the rendered release clusters report once they run the target
    waves: list[int]
    members: dict[int, list[str]]  # wave -> clusters
    settings: EnvSettings
    allowed: dict[int, bytes] = field(default_factory=dict)
    current: int = 0  # index into waves
    started: float = field(default_factory=time.monotonic)
    state: str = "progressing"  # progressing | complete | halted
    reason: str = ""
    rolled_back: bool = False

    @classmethod
    def settled(cls, env: str, content: bytes, members: dict[int, list[str]], settings: EnvSettings) -> Rollout:
        """An env whose clusters all run ``content`` (a hub's first look at it)."""
        waves = sorted(members)
        rollout = cls(env, content, content, {}, waves, members, settings, state="complete")
        rollout.allowed = {w: content for w in waves}
        return rollout

    @classmethod
    def resumed(
        cls,
        env: str,
        content: bytes,
        target_release: dict[str, Any],
        members: dict[int, list[str]],
        settings: EnvSettings,
        observed: dict[str, dict[str, Any]],
    ) -> Rollout:
        """A hub's first look at an env: waves whose clusters all still run an older release keep it, and
        the rollout resumes from the first of them (a restart never releases every wave at once)."""
        waves = sorted(members)
        allowed: dict[int, bytes] = {}
        for wave in waves:
            releases = [observed.get(name) for name in members[wave]]
            older = releases[0] if releases else None
            same = all(r == older for r in releases)
            if older and same and target_release and older != target_release:
                allowed[wave] = Pin(str(older.get("revision", "")), dict(older.get("values") or {})).to_yaml("hub")
            else:
                allowed[wave] = content
        behind = [i for i, w in enumerate(waves) if allowed[w] != content]
        if not behind:
            return cls.settled(env, content, members, settings)
        allowed[waves[0]] = content
        rollout = cls(env, content, allowed[waves[behind[-1]]], target_release, waves, members, settings)
        rollout.allowed = allowed
        rollout.current = max(behind[0] - 1, 0)
        return rollout

    def begin(self, content: bytes, release: dict[str, Any]) -> Rollout:
        """A new pin arrived in Git: wave 1 gets it, the other waves keep what they run."""
        nxt = Rollout(self.env, content, self.target, release, self.waves, self.members, self.settings)
        nxt.allowed = {w: self.allowed.get(w, self.target) for w in self.waves}
        nxt.allowed[self.waves[0]] = content
        return nxt

    def pin_for(self, wave: int) -> bytes:
        return self.allowed.get(wave, self.target)

    def advance(self, reports: dict[str, ClusterReport]) -> list[str]:
        """Move on when the current wave is done; halt when it failed. Returns clusters to wake."""
        if self.state != "progressing":
            return []
        wave = self.waves[self.current]
        members = [reports.get(name) for name in self.members[wave]]
        at_target = [r for r in members if r is not None and r.release == self.target_release]
        for report in at_target:
            if report.health.code is Code.DEGRADED:
                what = f"{report.health_object}: " if report.health_object else ""
                return self._halt(f"wave {wave}: {report.name} Degraded: {what}{report.health.message}")
        done = len(at_target) == len(members) and all(
            r.sync is SyncState.SYNCED and r.health.code is Code.HEALTHY for r in at_target
        )
        if done:
            self.current += 1
            if self.current == len(self.waves):
                self.state = "complete"
                return []
            self.started = time.monotonic()
            nxt = self.waves[self.current]
            self.allowed[nxt] = self.target
            return list(self.members[nxt])
        if time.monotonic() - self.started > self.settings.wave_timeout:
            slow = next(
                (r for r in members if r is None or r not in at_target or r.health.code is not Code.HEALTHY), None
            )
            detail = f"{slow.name} {slow.health.code.label}: {slow.health.message}" if slow else "not converged"
            return self._halt(f"wave {wave} not Healthy after {self.settings.wave_timeout:.0f}s ({detail})")
        return []

    def _halt(self, reason: str) -> list[str]:
        self.state, self.reason = "halted", reason
        return []

    def to_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "state": self.state,
            "wave": self.waves[min(self.current, len(self.waves) - 1)],
            "waves": self.waves,
            "release": self.target_release or None,
            "reason": self.reason or None,
            "rolledBack": self.rolled_back,
            "members": {str(wave): list(self.members[wave]) for wave in self.waves},
            "wavesDone": self.waves[: self.current],
        }
