#!/usr/bin/env bash
# Builds an optimised tree and runs every benchmark. Not part of CI: numbers
# on shared 2-core machines are noisy, so each bench reports medians and
# ratios against a baseline measured in the same run.
#   bench/run.sh [reps] [points]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$here/build-bench}
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release -DMLFLOW_TESTS=ON >/dev/null
cmake --build "$build" -j"$(nproc)" --target bench_log >/dev/null
"$build/bench/bench_log" "${1:-5}" "${2:-200000}"
