"""Generated hostile repositories raise only fleet's own errors (which the CLI and the hub report with a
file, a line and a cluster); never anything else, never a hang. Fixed seed and count: CI is deterministic.
bench/fuzz.py runs many more cases on demand."""

from __future__ import annotations

import os
import time

import pytest

from fleet.errors import FleetError
from tests.support.fuzzing import FUZZ_CONFIG, case, load_revision

SEED = 20261128
CASES = int(os.environ.get("FLEET_FUZZ_CASES", "400"))


@pytest.mark.parametrize("chunk", range(4))
def test_hostile_repositories_raise_only_fleet_errors(chunk: int) -> None:
    escapes = []
    for number in range(chunk, CASES, 4):
        c = case(SEED, number)
        started = time.monotonic()
        try:
            load_revision(c)
        except FleetError:
            pass
        except Exception as exc:  # the defect under test: reported with the case that caused it
            escapes.append(f"case {number}: {type(exc).__name__}: {str(exc)[:200]} in {c.describe()}")
        # bounded: a render stops at the time limit; parsing alone never takes long
        assert time.monotonic() - started < FUZZ_CONFIG.render_timeout + 30, c.describe()
    assert not escapes, "\n".join(escapes[:10])
