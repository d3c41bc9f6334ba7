#!/usr/bin/env bash
# The main job: install, build, log the quickstart example's run into
# ./mlruns, show it with `mlflow-c runs describe`, then serve the web UI
# over ./mlruns on http://127.0.0.1:5000 until Ctrl-C.
# MLFLOW_EXAMPLE_NO_SERVE=1 stops after the describe (for scripts).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/install-deps.sh"
cmake -S "$here" -B "$here/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMLFLOW_TESTS=OFF >/dev/null
cmake --build "$here/build" -j"$(nproc)"
run_id=$("$here/build/quickstart" | tail -n 1)
"$here/build/mlflow-c" runs describe --run-id "$run_id"
[ "${MLFLOW_EXAMPLE_NO_SERVE:-}" = 1 ] && exit 0
echo
echo "Web UI: http://127.0.0.1:5000 (the runs in ./mlruns; Ctrl-C stops the server)"
exec "$here/build/mlflow-c" ui --host 127.0.0.1 --port 5000 --backend-store-uri ./mlruns \
     --access-log off
