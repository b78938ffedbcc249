"""Shared test set-up. The lab fixtures (real control planes) live in tests/lab/conftest.py; helpers that
several suites use live in tests/support/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# Shared, noisy machines: no per-example deadline (speed is measured in bench/, not in tests).
settings.register_profile("fleet", deadline=None, max_examples=200)
# CI is deterministic: the same examples on every run, so a red run is a real defect, never luck.
settings.register_profile("ci", parent=settings.get_profile("fleet"), derandomize=True, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI", "").lower() in ("1", "true", "yes") else "fleet")

LAB_TESTS = Path(__file__).parent / "lab"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that needs real control planes carries the ``lab`` marker (everything under tests/lab/,
    and any test elsewhere that asks for the session lab): ``pytest -m "not lab"`` runs the rest in about
    a minute on a machine without Go."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if item.path.is_relative_to(LAB_TESTS) or "lab_session" in fixtures:
            item.add_marker(pytest.mark.lab)
