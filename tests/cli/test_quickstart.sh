#!/usr/bin/env bash
# test_quickstart.sh - runs examples/quickstart.c's program in a fresh
# directory and checks that ./mlruns holds exactly what MLflow's file store
# layout (spec section 1) prescribes: meta.yaml bytes, param/tag files
# without newlines, metric lines, nested runs, artifacts.
#
# usage: test_quickstart.sh MLFLOW_C QUICKSTART BUILD_DIR
set -u
MLFLOW_C=${1:?}; QUICKSTART=${2:?}
tmp=$(mktemp -d /tmp/mlflow-qs-test.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
unset MLFLOW_TRACKING_URI MLFLOW_EXPERIMENT_ID MLFLOW_EXPERIMENT_NAME MLFLOW_TRACKING_DIR MLFLOW_RUN_ID
passed=0; failed=0
check() { # check DESCRIPTION COMMAND...
    local what=$1; shift
    if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $what"; fi
}
file_is() { [ "$(cat "$1"; echo x)" = "$2x" ]; }  # exact bytes, no trailing newline added
matches() { grep -Eq "$2" <<<"$1"; }

run_id=$("$QUICKSTART" | tail -n 1)
check "quickstart exits 0 and prints a run id" matches "$run_id" '^[0-9a-f]{32}$'
check ".trash exists" test -d mlruns/.trash
check "Default experiment exists" file_is mlruns/0/meta.yaml "$(cat <<EOT
artifact_location: file://$tmp/mlruns/0
creation_time: $(sed -n 's/^creation_time: //p' mlruns/0/meta.yaml)
experiment_id: '0'
last_update_time: $(sed -n 's/^last_update_time: //p' mlruns/0/meta.yaml)
lifecycle_stage: active
name: Default
EOT
)
"
exp_dir=$(dirname "$(grep -l '^name: quickstart$' mlruns/*/meta.yaml)")
exp_id=$(basename "$exp_dir")
check "experiment id has 18 digits" matches "$exp_id" '^[1-9][0-9]{17}$'
check "experiment meta.yaml" file_is "$exp_dir/meta.yaml" "$(cat <<EOT
artifact_location: file://$tmp/mlruns/$exp_id
creation_time: $(sed -n 's/^creation_time: //p' "$exp_dir/meta.yaml")
experiment_id: '$exp_id'
last_update_time: $(sed -n 's/^last_update_time: //p' "$exp_dir/meta.yaml")
lifecycle_stage: active
name: quickstart
EOT
)
"
run="$exp_dir/$run_id"
start=$(sed -n 's/^start_time: //p' "$run/meta.yaml")
end=$(sed -n 's/^end_time: //p' "$run/meta.yaml")
check "start/end times are ms integers" matches "$start $end" '^[0-9]{13} [0-9]{13}$'
check "run meta.yaml" file_is "$run/meta.yaml" "$(cat <<EOT
artifact_uri: file://$tmp/mlruns/$exp_id/$run_id/artifacts
end_time: $end
entry_point_name: ''
experiment_id: '$exp_id'
lifecycle_stage: active
run_id: $run_id
run_name: linear-regression
run_uuid: $run_id
source_name: ''
source_type: 4
source_version: ''
start_time: $start
status: 3
tags: []
user_id: $(sed -n 's/^user_id: //p' "$run/meta.yaml")
EOT
)
"
check "param without newline" file_is "$run/params/learning_rate" "0.5"
check "param epochs" file_is "$run/params/epochs" "100"
check "tag runName" file_is "$run/tags/mlflow.runName" "linear-regression"
check "tag source.type" file_is "$run/tags/mlflow.source.type" "LOCAL"
check "tag note" file_is "$run/tags/mlflow.note.content" "Fits y = 3x + 2."
check "tag user matches user_id" file_is "$run/tags/mlflow.user" "$(sed -n 's/^user_id: //p' "$run/meta.yaml")"
check "metric key with / is a folder" test -f "$run/metrics/train/loss"
check "100 loss points" test "$(wc -l <"$run/metrics/train/loss")" = 100
check "metric lines are '<ms> <repr> <step>'" \
    test -z "$(grep -Ev '^[0-9]{13} [0-9.e+-]+ [0-9]+$' "$run/metrics/train/loss")"
check "steps 0..99 in order" test "$(awk '{print $3}' "$run/metrics/train/loss" | tr '\n' ,)" = \
    "$(seq -s, 0 99),"
check "artifact text" file_is "$run/artifacts/model/summary.txt" "$(printf 'w = %s\nb = %s\n' \
    "$(sed -n 's/^w = //p' "$run/artifacts/model/summary.txt")" \
    "$(sed -n 's/^b = //p' "$run/artifacts/model/summary.txt")")
"
check "artifact file" test -f "$run/artifacts/model/weights.csv"
child=$(grep -l "^$run_id\$" "$exp_dir"/*/tags/mlflow.parentRunId 2>/dev/null; \
        for f in "$exp_dir"/*/tags/mlflow.parentRunId; do [ "$(cat "$f")" = "$run_id" ] && echo "$f"; done)
child_dir=$(dirname "$(dirname "$(echo "$child" | head -n 1)")")
check "nested run exists" test -d "$child_dir"
check "nested run finished" grep -qx 'status: 3' "$child_dir/meta.yaml"
check "nested run name" file_is "$child_dir/tags/mlflow.runName" "evaluation"

out=$("$MLFLOW_C" runs describe --run-id "$run_id" --json)
check "describe --json status" matches "$out" '"status": *"FINISHED"'
check "describe --json param" matches "$out" '"learning_rate": *"0.5"'

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
