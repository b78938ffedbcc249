"""Planning the hub's rollouts from Git and the clusters: which clusters form each wave of an env, what a new
release pin is expected to look like once applied, and, when a hub starts, which release each cluster of a
multi-wave env last applied (so that a restart resumes a rollout instead of releasing every wave)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from fleet.config import FleetConfig
from fleet.engine import inventory
from fleet.engine.manager import ResourceManager
from fleet.errors import FleetError
from fleet.hub.log import EventLog
from fleet.hub.rollout import Rollout
from fleet.kube.api import ApiError, ApiLimits, ClusterApi
from fleet.model.cluster import Cluster, Registry, rollout_wave
from fleet.model.inventory import InventoryError
from fleet.model.promotion import Pin
from fleet.model.vocabulary import HEAD_REVISIONS, release_path
from fleet.repo.envsettings import EnvSettings, env_settings
from fleet.repo.source import Snapshot


async def observed_releases(
    registry: Registry, config: FleetConfig, connect: Callable[[Cluster, ApiLimits], Awaitable[ClusterApi]]
) -> dict[str, dict[str, Any]]:
    """The release pin each cluster of a multi-wave env last applied, from its inventory; clusters are
    reached through ``connect``, as the hub reaches them (credentials from Secrets included)."""
    clusters = [c for c in registry.clusters if c.enabled]
    multi = {env for env in registry.envs if len({rollout_wave(c) for c in clusters if c.env == env}) > 1}

    async def one(cluster: Cluster) -> tuple[str, dict[str, Any]]:
        try:
            api = await connect(cluster, ApiLimits(timeout=5.0))
        except FleetError:
            return cluster.name, {}
        try:
            found = await inventory.read(ResourceManager(api), config.inventory)
            return cluster.name, dict(found.release)
        except (FleetError, ApiError, InventoryError):
            return cluster.name, {}
        finally:
            await api.close()

    found = await asyncio.gather(*(one(c) for c in clusters if c.env in multi))
    return {name: release for name, release in found if release}


def plan_rollouts(
    rollouts: dict[str, Rollout],
    snapshot: Snapshot,
    *,
    registry: Registry,
    observed: dict[str, dict[str, Any]],
    resolve: Callable[[str], str],
    log: EventLog,
) -> None:
    """Bring ``rollouts`` (one per env) up to ``snapshot``: a changed release pin starts a rollout at wave 1;
    an env seen for the first time resumes from what its clusters were ``observed`` to run."""
    for env in registry.envs:
        members: dict[int, list[str]] = {}
        for cluster in registry.clusters:
            if cluster.env == env and cluster.enabled:
                members.setdefault(rollout_wave(cluster), []).append(cluster.name)
        if not members:
            continue
        try:
            settings = env_settings(snapshot, env)
        except FleetError as exc:
            log("env_settings_error", env=env, error=str(exc))
            settings = EnvSettings()
        content = snapshot.files.get(release_path(env), b"")
        old = rollouts.get(env)
        if old is None:
            target = expected_release(snapshot, env, content, resolve=resolve)
            rollouts[env] = Rollout.resumed(env, content, target, members, settings, observed)
            if rollouts[env].state == "progressing":
                log("rollout", env=env, state="resumed", wave=rollouts[env].to_dict()["wave"])
            continue
        old.members, old.settings, old.waves = members, settings, sorted(members)
        if content != old.target:
            rollouts[env] = old.begin(content, expected_release(snapshot, env, content, resolve=resolve))
            log("rollout", env=env, state="started", waves=",".join(map(str, sorted(members))))


def expected_release(snapshot: Snapshot, env: str, content: bytes, *, resolve: Callable[[str], str]) -> dict[str, Any]:
    """The release clusters report once they run ``content``: the pin with its revision resolved."""
    try:
        pin = Pin.parse(content, release_path(env))
        revision = snapshot.revision if pin.revision in HEAD_REVISIONS else resolve(pin.revision)
    except FleetError:
        return {}
    return {"revision": revision, "values": pin.values}
