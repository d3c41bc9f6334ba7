#!/usr/bin/env bash
# test_run.sh - `mlflow-c run` end to end on the example projects in
# examples/projects: params and tags in the run, literal hostile values,
# exit statuses for success, failure and usage errors, Ctrl-C (SIGINT)
# cancelling the program's whole process group and ending the run KILLED,
# and a docker_env project run through a fake `docker` (no engine here)
# with -A and --build-image, its argv checked against MLflow's.
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
    command: "sleep 30 & echo $! > sleep.pid; wait"
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

# True once process $1 has ended (a zombie waiting to be reaped counts).
gone() {
    local i
    for i in $(seq 100); do
        [ -e "/proc/$1" ] || return 0
        [ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)" = Z ] && return 0
        sleep 0.05
    done
    return 1
}

# Ctrl-C cancels: the program's group is killed and the run ends KILLED.
"$MLFLOW_C" run "$tmp" -e slow --experiment-name cancel >out 2>err &
pid=$!
for i in $(seq 200); do [ -s "$tmp/sleep.pid" ] && break; sleep 0.05; done
sleep 0.2
kill -INT $pid
wait $pid
check "interrupted run exits 130" test $? = 130
id=$(last_run "$(exp_id cancel)")
check "run KILLED" test "$(field "$id" 'r["info"]["status"]')" = KILLED
check "the program's own child was killed too" gone "$(cat "$tmp/sleep.pid")"
check "cancel is reported" grep -q "Cancelling run" err

# docker_env through a fake docker that logs its argv and runs the command
# part of `docker run` here.
mkdir -p "$tmp/bin" "$tmp/dproj"
cat > "$tmp/bin/docker" <<'SH'
#!/bin/sh
{ printf docker; for a in "$@"; do printf ' [%s]' "$a"; done; echo; } >> "$FAKE_DIR/docker.log"
case "$1" in
info) exit 0 ;;
image) grep -qxF "$5" "$FAKE_DIR/images" 2>/dev/null || exit 1
       echo "sha256:0123456789abcdef $5"; exit 0 ;;
build) cat > /dev/null; echo "$4" >> "$FAKE_DIR/images"; exit 0 ;;
run) shift
     while [ $# -gt 0 ]; do
         case "$1" in --rm|-t) shift ;; -e) export "$2"; shift 2 ;; -v|--gpus) shift 2 ;;
                      *) break ;; esac
     done
     shift; exec "$@" ;;
esac
exit 2
SH
chmod +x "$tmp/bin/docker"
cat > "$tmp/dproj/MLproject" <<'YAML'
name: dproj
docker_env:
  image: base:1
entry_points:
  main:
    parameters: {alpha: float}
    command: "sh -c 'echo alpha=$0 in $MLFLOW_TRACKING_URI' {alpha}"
YAML
export FAKE_DIR=$tmp
PATH="$tmp/bin:$PATH" "$MLFLOW_C" run "$tmp/dproj" -P alpha=0.3 -A t -A gpus=all \
    --build-image --experiment-name docker >out 2>err
check "docker project exits 0" test $? = 0
check "the command ran in the container's tracking URI" \
    grep -qxF "alpha=0.3 in file:///mlflow/tmp/mlruns" out
check "image built as MLflow builds it" grep -qxF "docker [build] [--force-rm] [-t] [dproj] \
[-f] [mlflow-project-docker-build-context/Dockerfile.mlflow-autogenerated] [-]" "$tmp/docker.log"
id=$(last_run "$(exp_id docker)")
check "docker run as MLflow runs it" grep -qxF "docker [run] [--rm] [-t] [--gpus] [all] \
[-v] [$tmp/mlruns:/mlflow/tmp/mlruns] \
[-v] [$tmp/mlruns/$(exp_id docker)/$id/artifacts:$tmp/mlruns/$(exp_id docker)/$id/artifacts] \
[-e] [MLFLOW_RUN_ID=$id] [-e] [MLFLOW_TRACKING_URI=file:///mlflow/tmp/mlruns] \
[-e] [MLFLOW_EXPERIMENT_ID=$(exp_id docker)] [dproj] [sh] [-c] [echo alpha=\$0 in \
\$MLFLOW_TRACKING_URI] [0.3]" "$tmp/docker.log"
check "tag mlflow.project.env" \
    test "$(field "$id" 'r["data"]["tags"]["mlflow.project.env"]')" = docker
check "tag mlflow.docker.image.uri" \
    test "$(field "$id" 'r["data"]["tags"]["mlflow.docker.image.uri"]')" = dproj
PATH="$tmp/bin:$PATH" "$MLFLOW_C" run "$tmp/dproj" -P alpha=1 -A =x >out 2>err
check "-A without a name is a usage error" test $? = 2
# The docker example, its image built (the fake "container" is the host).
USER=tester PATH="$tmp/bin:$PATH" "$MLFLOW_C" run "$EXAMPLES/docker" --build-image \
    -P alpha=0.5 >out 2>err
check "docker example exits 0" test $? = 0
check "docker example got its environment" \
    grep -qxF "hello from tester's run $(last_run 0), tracking at file:///mlflow/tmp/mlruns" out
check "docker example mounts its volume" grep -qF " [-v] [/tmp:/tmp] " "$tmp/docker.log"

# conda when there is none: a clear error, nothing run.
mkdir -p "$tmp/cproj"
printf 'entry_points:\n  main: {command: "touch ran"}\n' > "$tmp/cproj/MLproject"
printf 'name: x\n' > "$tmp/cproj/conda.yaml"
PATH=/usr/bin:/bin "$MLFLOW_C" run "$tmp/cproj" >out 2>err
check "a conda project without conda fails" test $? = 1
check "and names conda" grep -q "'conda' is not on PATH" err
check "and runs nothing" test ! -e "$tmp/cproj/ran"

exit $failed
