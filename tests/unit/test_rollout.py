"""The wave bookkeeping of the hub (pure): which pin each wave may run, when a rollout moves on or halts."""

from __future__ import annotations

from fleet.hub.rollout import Rollout
from fleet.model.health import Code, Health
from fleet.model.report import ClusterReport, SyncState
from fleet.repo.envsettings import EnvSettings

OLD, NEW = b"revision: aaa\nvalues: {tag: '1'}\n", b"revision: aaa\nvalues: {tag: '2'}\n"
OLD_RELEASE, NEW_RELEASE = (
    {"revision": "a" * 40, "values": {"tag": "1"}},
    {"revision": "a" * 40, "values": {"tag": "2"}},
)
MEMBERS = {1: ["eu"], 2: ["us", "ap"]}
SETTINGS = EnvSettings(wave_timeout=300)


def report(
    name: str, release: dict[str, object], code: Code = Code.HEALTHY, sync: SyncState = SyncState.SYNCED
) -> ClusterReport:
    return ClusterReport(
        name=name, env="prod", labels={}, revision="r", sync=sync, health=Health(code, "msg"), release=release
    )  # type: ignore[arg-type]


def test_a_new_pin_goes_to_wave_1_then_wave_2_when_wave_1_is_healthy() -> None:
    rollout = Rollout.settled("prod", OLD, MEMBERS, SETTINGS).begin(NEW, NEW_RELEASE)
    assert rollout.pin_for(1) == NEW and rollout.pin_for(2) == OLD
    assert rollout.advance({"eu": report("eu", NEW_RELEASE, Code.PROGRESSING)}) == []
    assert rollout.pin_for(2) == OLD
    assert sorted(rollout.advance({"eu": report("eu", NEW_RELEASE)})) == ["ap", "us"]
    assert rollout.pin_for(2) == NEW and rollout.state == "progressing"
    reports = {n: report(n, NEW_RELEASE) for n in ("eu", "us", "ap")}
    assert rollout.advance(reports) == [] and rollout.state == "complete"


def test_a_degraded_wave_halts_and_later_waves_keep_the_old_pin() -> None:
    rollout = Rollout.settled("prod", OLD, MEMBERS, SETTINGS).begin(NEW, NEW_RELEASE)
    rollout.advance({"eu": report("eu", NEW_RELEASE, Code.DEGRADED)})
    assert rollout.state == "halted" and rollout.reason == "wave 1: eu Degraded: msg"
    assert rollout.pin_for(2) == OLD and rollout.previous == OLD


def test_a_degraded_cluster_still_on_the_old_release_does_not_count() -> None:
    rollout = Rollout.settled("prod", OLD, MEMBERS, SETTINGS).begin(NEW, NEW_RELEASE)
    assert rollout.advance({"eu": report("eu", OLD_RELEASE, Code.DEGRADED)}) == []
    assert rollout.state == "progressing"


def test_a_restarted_hub_resumes_instead_of_releasing_every_wave() -> None:
    observed = {"eu": NEW_RELEASE, "us": OLD_RELEASE, "ap": OLD_RELEASE}
    rollout = Rollout.resumed("prod", NEW, NEW_RELEASE, MEMBERS, SETTINGS, observed)
    assert rollout.state == "progressing" and rollout.pin_for(1) == NEW
    held = rollout.pin_for(2)
    assert (held != NEW and b"tag: '1'" in held.replace(b'"', b"'")) or b"tag: 1" in held
    assert sorted(rollout.advance({"eu": report("eu", NEW_RELEASE)})) == ["ap", "us"]
    settled = Rollout.resumed("prod", NEW, NEW_RELEASE, MEMBERS, SETTINGS, {n: NEW_RELEASE for n in ("eu", "us", "ap")})
    assert settled.state == "complete" and settled.pin_for(2) == NEW
