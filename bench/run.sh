#!/usr/bin/env bash
# Builds an optimised tree and runs every benchmark. Not part of CI: numbers
# on shared 2-core machines are noisy, so each bench reports medians and
# ratios against a baseline measured in the same run.
#   bench/run.sh [reps] [points]
# The sqlite benchmark's sizes come from the environment:
#   SQLITE_BENCH_RUNS=1000,10000,100000  run counts for search_runs (default 1000,10000)
#   SQLITE_BENCH_POINTS=1000000          points of the metric history case
# bench_pg.sh (PostgreSQL, 1 and 3 servers) runs last, only where PostgreSQL's
# server binaries are installed; it starts and stops its own cluster.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$here/build-bench}
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release -DMLFLOW_TESTS=ON >/dev/null
cmake --build "$build" -j"$(nproc)" --target bench_log bench_sqlite bench_server bench_async \
    >/dev/null
"$build/bench/bench_log" "${1:-5}" "${2:-200000}"
"$build/bench/bench_sqlite" "${1:-5}" "${SQLITE_BENCH_RUNS:-1000,10000}" \
    "${SQLITE_BENCH_POINTS:-1000000}"
"$build/bench/bench_server" "${1:-3}"
"$build/bench/bench_async" "${1:-5}"
BUILD_DIR=$build BENCH_PG_NO_BUILD=1 bash "$here/bench/bench_pg.sh" "${1:-3}"
