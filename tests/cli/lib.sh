# lib.sh - what the command-line test scripts share; they source it after
# setting MLFLOW_C and tmp. One "ok - ..." or "FAIL - ..." line per check
# and the counts at the end; running mlflow-c with its output kept; the port
# a server says it listens on. A script may define fail_details, which
# report calls after a FAIL line to show what went wrong.
# shellcheck shell=bash

passed=0
failed=0
status=0

# report OK DESCRIPTION: OK is an exit status; 0 means the check passed.
report() {
    if [ "$1" = 0 ]; then
        passed=$((passed + 1))
        echo "ok - $2"
    else
        failed=$((failed + 1))
        echo "FAIL - $2"
        if declare -F fail_details >/dev/null; then fail_details; fi
    fi
}

# summary: prints the counts; its status (the script's last) is 0 when
# nothing failed.
summary() {
    echo "$passed passed, $failed failed"
    [ "$failed" = 0 ]
}

# run ARGS...: runs mlflow-c, keeping stdout, stderr and the exit status.
run() {
    "$MLFLOW_C" "$@" >"$tmp/out" 2>"$tmp/err"
    status=$?
}

# run_details: what the last `run` did, for a script's fail_details.
run_details() {
    echo "  --- exit status $status"
    echo "  --- stdout"; sed -n '1,40s/^/  /p' "$tmp/out"
    echo "  --- stderr"; sed -n '1,20s/^/  /p' "$tmp/err"
}

expect_out() { [ "$status" = 0 ] && grep -Eq -- "$1" "$tmp/out"; report $? "$2"; }
# expect_fail STATUS REGEX DESC: the exit status, and a message on stderr.
expect_fail() {
    [ "$status" = "$1" ] && grep -Eq -- "$2" "$tmp/err" && [ ! -s "$tmp/out" ]
    report $? "$3"
}

# listen_port LOG [PID]: prints the port a server started with --port 0
# wrote to LOG, waiting up to 10 s for it (less if process PID is gone);
# prints nothing when there is none.
listen_port() {
    local p=
    for _ in $(seq 1 200); do
        p=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$1")
        [ -n "$p" ] && break
        [ -n "${2-}" ] && ! kill -0 "$2" 2>/dev/null && break
        sleep 0.05
    done
    echo "$p"
}
