"""Hostile repositories at volume: 10,000 generated cases (tests/support/fuzzing.py) through what the hub
and the CLI do with a revision, counting what must never happen.

    .venv/bin/python bench/fuzz.py                     # 10,000 cases, seed 1
    .venv/bin/python bench/fuzz.py --cases 2000 --seed 7

- escape: an exception other than fleet's own error type came out (the CLI would print a traceback, the
  hub would lose the revision's report).
- hang: a case still running HANG_SECONDS after it started (the render time limit did not hold).
- over limit: the case made this process (the parent: the hub or the CLI) grow by more than
  PARENT_GROWTH_MB, i.e. the render memory limit was bypassed.

Cases stopped by the render limits are counted too (as "stopped by a limit"): that is the bound working.
Goal: 0 escapes, 0 hangs, 0 over limit.
"""

from __future__ import annotations

import argparse
import platform
import resource
import sys
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fleet.errors import FleetError  # noqa: E402
from tests.support.fuzzing import FUZZ_CONFIG, case, load_revision  # noqa: E402

HANG_SECONDS = FUZZ_CONFIG.render_timeout * 2 + 30
PARENT_GROWTH_MB = 256


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    outcomes: Counter[str] = Counter()
    examples: dict[str, str] = {}
    baseline = None
    started = time.monotonic()
    for number in range(args.cases):
        c = case(args.seed, number)
        result: dict[str, str] = {}

        def run(c: object = c, result: dict[str, str] = result) -> None:
            try:
                load_revision(c)  # type: ignore[arg-type]
                result["outcome"] = "rendered"
            except FleetError as exc:
                limited = "took longer than" in str(exc) or "memory" in str(exc)
                result["outcome"] = "stopped by a limit" if limited else "fleet error"
            except Exception as exc:
                result["outcome"] = "escape"
                result["detail"] = f"{type(exc).__name__}: {str(exc)[:200]}"

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        worker.join(HANG_SECONDS)
        if worker.is_alive():
            outcomes["hang"] += 1
            examples.setdefault("hang", f"case {number}: {c.describe()[:300]}")
            continue
        outcome = result.get("outcome", "escape")
        outcomes[outcome] += 1
        if outcome == "escape":
            examples.setdefault("escape", f"case {number}: {result.get('detail')} {c.describe()[:300]}")
        if baseline is None:
            baseline = peak_rss_mb()  # after the first case: imports and worker start-up are not growth
        elif peak_rss_mb() - baseline > PARENT_GROWTH_MB and "over limit" not in outcomes:
            outcomes["over limit"] += 1
            examples["over limit"] = f"case {number}: parent peak RSS {peak_rss_mb():.0f} MiB"
        if (number + 1) % 1000 == 0:
            print(f"  {number + 1} cases, {time.monotonic() - started:.0f}s: {dict(outcomes)}", flush=True)
    elapsed = time.monotonic() - started
    print(f"machine: {platform.machine()}, {platform.system()}, python {platform.python_version()}")
    print(
        f"{args.cases} cases (seed {args.seed}) in {elapsed:.0f}s; render limits {FUZZ_CONFIG.render_timeout:g}s, "
        f"{FUZZ_CONFIG.render_memory_mb} MiB; parent peak RSS {peak_rss_mb():.0f} MiB"
    )
    for name in ("rendered", "fleet error", "stopped by a limit"):
        print(f"  {name:20} {outcomes[name]}")
    print(f"escapes / hangs / over limit: {outcomes['escape']} / {outcomes['hang']} / {outcomes['over limit']}")
    for name, example in examples.items():
        print(f"  first {name}: {example}")
    sys.exit(1 if outcomes["escape"] or outcomes["hang"] or outcomes["over limit"] else 0)


if __name__ == "__main__":
    main()
