"""Shared test set-up. The lab fixtures (real control planes) live in tests/lab/conftest.py."""

from __future__ import annotations

import os

from hypothesis import settings

# Shared, noisy machines: no per-example deadline (speed is measured in bench/, not in tests).
settings.register_profile("fleet", deadline=None, max_examples=200)
# CI is deterministic: the same examples on every run, so a red run is a real defect, never luck.
settings.register_profile("ci", parent=settings.get_profile("fleet"), derandomize=True, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI", "").lower() in ("1", "true", "yes") else "fleet")
