"""The CLI (and so the hub) runs with fleet's garbage-collector settings, checked in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys

from fleet.runtime import YOUNG_GENERATION_THRESHOLD

PROBE = """
import gc, sys
from fleet.cli import main
sys.argv = ["fleet", "--version"]
try:
    main()
except SystemExit:
    pass
print(gc.get_threshold()[0], gc.get_freeze_count())
"""


def test_the_cli_collects_the_young_generation_less_often_and_freezes_its_imports() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout
    threshold, frozen = map(int, out.split()[-2:])
    assert threshold == YOUNG_GENERATION_THRESHOLD
    assert frozen > 10_000  # the imported modules' objects: out of every full collection's walk
