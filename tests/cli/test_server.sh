#!/usr/bin/env bash
# test_server.sh - `mlflow-c server` as a user starts it: it listens (on a
# free port here), answers over HTTP, writes one access-log line per
# request, refuses bad flags, and on SIGTERM finishes and exits 0.
#
# usage: test_server.sh MLFLOW_C QUICKSTART BUILD_DIR   (only MLFLOW_C is used)
# HTTP is spoken through bash's /dev/tcp, so the test needs no client tool.
set -u

MLFLOW_C=${1:?usage: test_server.sh MLFLOW_C QUICKSTART BUILD_DIR}
case "$MLFLOW_C" in /*) ;; *) MLFLOW_C="$PWD/$MLFLOW_C" ;; esac
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tmp=$(mktemp -d /tmp/mlflow-server-test.XXXXXX) || exit 1
pid=
cleanup() {
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
cd "$tmp" || exit 1
unset MLFLOW_BACKEND_STORE_URI MLFLOW_DEFAULT_ARTIFACT_ROOT MLFLOW_ARTIFACTS_DESTINATION \
    MLFLOW_HOST MLFLOW_PORT MLFLOW_WORKERS MLFLOW_STATIC_PREFIX MLFLOW_SERVE_ARTIFACTS \
    MLFLOW_ARTIFACTS_ONLY

fail_details() { echo "  --- server log"; sed -n '1,20s/^/  /p' "$tmp/log"; }

# http METHOD PATH [BODY]: one request; the response lands in $tmp/resp.
http() {
    local body=${3-}
    exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
    if [ -n "$body" ]; then
        printf '%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' \
            "$1" "$2" "${#body}" "$body" >&3
    else
        printf '%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$1" "$2" >&3
    fi
    timeout 10 cat <&3 >"$tmp/resp"
    exec 3>&-
}

# Bad flags are usage errors (exit status 2) and start nothing.
"$MLFLOW_C" server --port 70000 >/dev/null 2>"$tmp/err"
[ $? = 2 ] && grep -q -- "--port" "$tmp/err"
report $? "an out-of-range --port is a usage error"
"$MLFLOW_C" server --static-prefix nope --port 0 >/dev/null 2>"$tmp/err"
[ $? = 1 ] && grep -q "static-prefix" "$tmp/err"
report $? "a --static-prefix without a leading '/' is refused"

"$MLFLOW_C" server --port 0 --backend-store-uri "$tmp/mlruns" \
    --artifacts-destination "$tmp/art" 2>"$tmp/log" &
pid=$!
port=$(listen_port "$tmp/log" "$pid")
[ -n "$port" ] && grep -q "default artifact root: mlflow-artifacts:/" "$tmp/log"
report $? "starts, prints where it listens and its artifact root"

if [ -n "$port" ]; then
    http GET /health
    head -1 "$tmp/resp" | grep -q "200" && tail -1 "$tmp/resp" | grep -qx "OK"
    report $? "GET /health answers OK"

    http POST /api/2.0/mlflow/experiments/create '{"name": "from-shell"}'
    head -1 "$tmp/resp" | grep -q "200" && grep -q '"experiment_id"' "$tmp/resp"
    report $? "POST experiments/create creates an experiment"

    http GET "/api/2.0/mlflow/experiments/get-by-name?experiment_name=from-shell"
    grep -q '"artifact_location": "mlflow-artifacts:/' "$tmp/resp"
    report $? "new experiments get an mlflow-artifacts: location"

    sleep 0.2
    grep -q '"GET /health" 200' "$tmp/log" &&
        grep -q '"POST /api/2.0/mlflow/experiments/create" 200' "$tmp/log"
    report $? "one access-log line per request"

    kill -TERM "$pid"
    wait "$pid"
    st=$?
    pid=
    [ "$st" = 0 ] && grep -q "SIGTERM received" "$tmp/log"
    report $? "SIGTERM stops it with exit status 0"
    [ -d "$tmp/mlruns/0" ] && [ -d "$tmp/art" ]
    report $? "the store and the artifact destination exist"
fi

summary
