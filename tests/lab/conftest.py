"""The session's lab: one real control plane per cluster of the example fleet.

In CI (CI=true) a lab that cannot start fails every test that needs it; elsewhere those tests are
skipped with the reason, so that `pytest tests/unit` works on a machine without Go.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet.errors import FleetError
from fleet.lab.build import missing_binaries
from tests.support.lab import LabSession, example_topology, lab_unavailable
from tests.support.labrepo import FleetRepo


def _stop_on_sigterm(_signum: int, _frame: object) -> None:
    # A run stopped with SIGTERM (a CI timeout, `timeout`) still tears the lab down, like Ctrl-C does.
    raise KeyboardInterrupt


signal.signal(signal.SIGTERM, _stop_on_sigterm)


@pytest.fixture(scope="session")
def lab_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabSession]:
    versions = tuple(sorted({spec.kubernetes_version for spec in example_topology()}))
    missing = missing_binaries(versions=versions)
    if missing:
        lab_unavailable("binaries not built: " + ", ".join(b.name for b in missing))
    root = Path(os.environ.get("FLEET_TEST_LAB_DIR") or tmp_path_factory.mktemp("lab"))
    session = LabSession(root, example_topology())
    try:
        session.start()
    except FleetError as exc:
        session.stop()
        lab_unavailable(str(exc))
    except BaseException:  # interrupted while starting: leave nothing running
        session.stop()
        raise
    yield session
    # Nothing may interrupt the tear-down: a second signal would leave processes behind.
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN), signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        session.stop()
    finally:
        signal.signal(signal.SIGTERM, previous[0])
        signal.signal(signal.SIGINT, previous[1])


@pytest.fixture
def dev_and_staging(tmp_path: Path, lab_session: LabSession) -> FleetRepo:
    """The fleet most lab tests start from: dev-1 (env dev) and staging-1 (env staging), in a namespace and
    under an inventory name of the test's own."""
    return FleetRepo(tmp_path / "repo", lab_session, {"dev-1": "dev", "staging-1": "staging"})


@pytest.fixture
def dev_only(tmp_path: Path, lab_session: LabSession) -> FleetRepo:
    """A fleet of dev-1 alone, for tests about one cluster's sync."""
    return FleetRepo(tmp_path / "repo", lab_session, {"dev-1": "dev"})
