#!/usr/bin/env bash
# The README's demo, from a stopped lab, N times in a row (default 10): every run must pass.
#     bench/demo_loop.sh 10
# Prints one line per run (exit status and seconds) and a last line "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
passed=0
failed=0
for i in $(seq 1 "$runs"); do
    make -s lab-down >/dev/null 2>&1
    started=$(date +%s)
    if make -s demo >"/tmp/fleet-demo-$i.log" 2>&1; then
        passed=$((passed + 1)); result=ok
    else
        failed=$((failed + 1)); result="FAILED (log: /tmp/fleet-demo-$i.log)"
    fi
    echo "run $i: $result in $(( $(date +%s) - started ))s"
done
make -s lab-down >/dev/null 2>&1
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
