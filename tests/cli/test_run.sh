#!/usr/bin/env bash
# test_run.sh - `mlflow-c run` end to end on the example projects in
# examples/projects: params and tags in the run, literal hostile values,
# exit statuses for success, failure and usage errors, and Ctrl-C (SIGINT)
# cancelling the program and ending the run KILLED.
#
# usage: test_run.sh MLFLOW_C QUICKSTART BUILD_DIR   (QUICKSTART is not used)
set -u

MLFLOW_C=${1:?usage: test_run.sh MLFLOW_C QUICKSTART BUILD_DIR}
case "$MLFLOW_C" in /*) ;; *) MLFLOW_C="$PWD/$MLFLOW_C" ;; esac
HERE=$(cd "$(dirname "$0")" && pwd)
EXAMPLES="$HERE/../../examples/projects"

tmp=$(mktemp -d /tmp/mlflow-run-test.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
unset MLFLOW_TRACKING_URI MLFLOW_EXPERIMENT_ID MLFLOW_EXPERIMENT_NAME MLFLOW_TRACKING_DIR
unset MLFLOW_RUN_ID
export MLFLOW_TRACKING_URI="file://$tmp/mlruns"

failed=0
check() { # check DESCRIPTION COMMAND...
    local what=$1
    shift
    if "$@"; then
        echo "ok - $what"
    else
        echo "not ok - $what"
        failed=1
    fi
}

# The id of the newest run of experiment $1.
last_run() {
    "$MLFLOW_C" runs list --experiment-id "$1" --json |
        python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["info"]["run_id"])'
}
exp_id() { # exp_id NAME
    "$MLFLOW_C" experiments get --experiment-name "$1" --json |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["experiment_id"])'
}
field() { # field RUN_ID PYTHON_EXPR_ON_RUN
    "$MLFLOW_C" runs describe --run-id "$1" --json |
        python3 -c "import json,sys; r=json.load(sys.stdin); print($2)"
}

# Success: params logged, project tags set, FINISHED.
"$MLFLOW_C" run "$EXAMPLES/shell" -P alpha=0.5 >out 2>err
check "shell project exits 0" test $? = 0
check "the script ran with the value" grep -q "alpha=0.5 for 3 epochs" out
id=$(last_run 0)
check "run FINISHED" test "$(field "$id" 'r["info"]["status"]')" = FINISHED
check "param alpha" test "$(field "$id" 'r["data"]["params"]["alpha"]')" = 0.5
check "default param epochs" test "$(field "$id" 'r["data"]["params"]["epochs"]')" = 3
check "source type PROJECT" \
    test "$(field "$id" 'r["data"]["tags"]["mlflow.source.type"]')" = PROJECT
check "entry point tag" \
    test "$(field "$id" 'r["data"]["tags"]["mlflow.project.entryPoint"]')" = main
check "backend tag" test "$(field "$id" 'r["data"]["tags"]["mlflow.project.backend"]')" = local

# Hostile values arrive literally; undeclared params are appended.
hostile="it's; touch pwned \$(touch pwned2) \`touch pwned3\` \"q\""
"$MLFLOW_C" run "$EXAMPLES/params" -P "name=$hostile" -P data=. -P extra=1 \
    --experiment-name hostile --run-name h1 >out 2>err
check "params project exits 0" test $? = 0
check "hostile value arrives literally" grep -qxF "arg: [$hostile]" out
check "no command ran from a value" test ! -e pwned -a ! -e pwned2 -a ! -e pwned3
check "path made absolute" grep -qxF "arg: [$tmp]" out
check "undeclared param appended" grep -qxF "arg: [--extra]" out

# A failing program: exit 1, run FAILED.
cat > "$tmp/MLproject" <<'YAML'
entry_points:
  main:
    command: "exit 3"
  slow:
    command: "sleep 30"
YAML
"$MLFLOW_C" run "$tmp" --experiment-name fails >out 2>err
check "failing project exits 1" test $? = 1
check "failure is reported" grep -q "failed" err
id=$(last_run "$(exp_id fails)")
check "run FAILED" test "$(field "$id" 'r["info"]["status"]')" = FAILED

# Usage errors and bad parameters.
"$MLFLOW_C" run >out 2>err
check "missing URI is a usage error" test $? = 2
"$MLFLOW_C" run "$EXAMPLES/shell" -P alpha >out 2>err
check "-P without = is a usage error" test $? = 2
"$MLFLOW_C" run "$EXAMPLES/shell" -P alpha=1 -P alpha=2 >out 2>err
check "a repeated parameter is a usage error" test $? = 2
"$MLFLOW_C" run "$EXAMPLES/shell" -P alpha=abc >out 2>err
check "a float that is not a number fails" test $? = 1
check "and says so" grep -q "is not a number" err

# Ctrl-C cancels: the program's group is killed and the run ends KILLED.
"$MLFLOW_C" run "$tmp" -e slow --experiment-name cancel >out 2>err &
pid=$!
sleep 1
kill -INT $pid
wait $pid
check "interrupted run exits 130" test $? = 130
id=$(last_run "$(exp_id cancel)")
check "run KILLED" test "$(field "$id" 'r["info"]["status"]')" = KILLED

exit $failed
