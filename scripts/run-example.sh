#!/usr/bin/env bash
# The main job: install, build, log the quickstart example's run into
# ./mlruns, and show it with `mlflow-c runs describe`.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/install-deps.sh"
cmake -S "$here" -B "$here/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMLFLOW_TESTS=OFF >/dev/null
cmake --build "$here/build" -j"$(nproc)"
run_id=$("$here/build/quickstart" | tail -n 1)
"$here/build/mlflow-c" runs describe --run-id "$run_id"
