"""Process-wide settings of the interpreter that fleet's entry points (the CLI, the hub, the render
workers) apply once at start."""

from __future__ import annotations

import gc

# Rendering and syncing allocate millions of short-lived objects that reference counting frees (parsed
# YAML, decoded responses); with the default threshold of 700 the cyclic collector ran every 700 of them
# and collections that found next to nothing took a fifth of a render's CPU and a tenth of a sync's
# (bench/render.py, bench/sync.py).
YOUNG_GENERATION_THRESHOLD = 50_000


def tune_garbage_collector() -> None:
    """Collect the young generation less often, and move everything alive now (imported modules, their
    classes and constants: most of the process's objects) out of the collector's sight, so that a full
    collection no longer walks them. Both only change when cyclic garbage is found, never what is."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, middle, old)
