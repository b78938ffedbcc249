"""Shared test set-up. The lab fixtures (real control planes) live in tests/lab/conftest.py."""

from __future__ import annotations

from hypothesis import settings

# Shared, noisy machines: no per-example deadline (speed is measured in bench/, not in tests).
settings.register_profile("fleet", deadline=None, max_examples=200)
settings.load_profile("fleet")
