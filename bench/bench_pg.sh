#!/usr/bin/env bash
# bench_pg.sh - mlflow-c over PostgreSQL: one server, then three servers
# over the same database (the shape of docs/deploying.md), with 1..8
# clients spreading their requests round-robin over the servers.
#
#   bench/bench_pg.sh [reps] [clients, e.g. 1,2,4,8] [seconds per case]
#
# Starts its own throwaway cluster (tests/pg_fixture.sh: 127.0.0.1, a free
# port, fsync off) and stops it at the end; without PostgreSQL's server
# binaries it says so and exits 0 (bench/run.sh runs it as an optional
# part). Reports, per server count and client count: log_batch requests/s
# and metric rows/s, searches/s and the median search latency, and the CPU
# the servers and PostgreSQL used (in cores) next to how busy the whole
# machine was; then the 3-server / 1-server throughput ratios. First, the
# store's own batch write against a raw libpq INSERT loop (bench_sqlite's
# case 1b).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$here/build-bench}
reps=${1:-3}
clients=${2:-1,2,4,8}
seconds=${3:-3}

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    echo "bench_pg: skipped: no PostgreSQL server binaries (apt-get install postgresql-15)"
    exit 0
fi
# BENCH_PG_NO_BUILD=1: $build is built already (bench/run.sh).
if [ -z "${BENCH_PG_NO_BUILD:-}" ]; then
    cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release -DMLFLOW_TESTS=ON >/dev/null
    cmake --build "$build" -j"$(nproc)" --target mlflow-c bench_server bench_sqlite >/dev/null
fi
mlflow_c=$build/mlflow-c

tmp=$(mktemp -d /tmp/mlflow-bench-pg.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    bash "$here/tests/pg_fixture.sh" stop "$tmp/pg" || true
    rm -rf "$tmp"
}
trap cleanup EXIT
bash "$here/tests/pg_fixture.sh" start "$tmp/pg"
uri=$(cat "$tmp/pg/uri")
postmaster=$(head -1 "$(cat "$tmp/pg/datadir")/postmaster.pid")
echo "PostgreSQL $("$(ls -d /usr/lib/postgresql/*/bin | head -1)/postgres" --version |
    awk '{print $3}') at $uri (postmaster pid $postmaster), $(nproc) cores," \
    "load average $(cut -d' ' -f1-3 /proc/loadavg)"

echo
MLFLOW_BENCH_PG_URI=$uri MLFLOW_BENCH_PG_ONLY=1 "$build/bench/bench_sqlite" "$reps"

# start_servers N: N servers on free ports over the database.
urls=
start_servers() {
    urls=
    pids=()
    for i in $(seq 1 "$1"); do
        "$mlflow_c" server --backend-store-uri "$uri" --artifacts-destination "$tmp/art" \
            --host 127.0.0.1 --port 0 --access-log off 2>"$tmp/log.$i" &
        pids+=($!)
    done
    for i in $(seq 1 "$1"); do
        local port=
        for _ in $(seq 1 200); do
            port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' \
                "$tmp/log.$i")
            [ -n "$port" ] && break
            sleep 0.05
        done
        [ -n "$port" ] || { cat "$tmp/log.$i" >&2; exit 1; }
        urls+=${urls:+,}http://127.0.0.1:$port
    done
}
stop_servers() {
    for p in "${pids[@]}"; do kill -TERM "$p"; done
    for p in "${pids[@]}"; do wait "$p" || true; done
    pids=()
}

pgbin=$(ls -d /usr/lib/postgresql/*/bin | head -1)
for n in 1 3; do
    echo
    start_servers "$n"
    if [ "$n" = 1 ]; then
        # The search runs, then statistics on them: right after a bulk load,
        # before autovacuum's first ANALYZE (up to a minute later), the
        # planner knows nothing of the tables and picks nested loops that
        # take seconds per search.
        "$build/bench/bench_server" --urls "$urls" 1 0 "$seconds" 2>&1 | sed 's/^/  /'
        "$pgbin/psql" -qX "$uri" -c ANALYZE
    fi
    BENCH_SERVER_PIDS=$(IFS=,; echo "${pids[*]}") BENCH_PG_PID=$postmaster \
        "$build/bench/bench_server" --urls "$urls" "$reps" "$clients" "$seconds" \
        2>>"$tmp/results"
    stop_servers
done

echo
echo "scaling, 3 servers / 1 server (same database, same clients):"
awk '
/^result / {
    for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    key = v["clients"]
    ing[v["servers"], key] = v["batches_per_s"]; srch[v["servers"], key] = v["searches_per_s"]
    pg[v["servers"], key] = v["ingest_cpu_pg"]; sv[v["servers"], key] = v["ingest_cpu_servers"]
    if (!(key in seen)) { seen[key] = 1; order[++n] = key }
}
END {
    printf "%-8s %14s %14s %16s %16s\n", "clients", "ingest ratio", "search ratio",
           "pg cores 1 -> 3", "srv cores 1 -> 3"
    for (i = 1; i <= n; i++) {
        k = order[i]
        printf "%-8s %14.2f %14.2f %9.2f -> %4.2f %9.2f -> %4.2f\n", k,
               ing[1, k] ? ing[3, k] / ing[1, k] : 0, srch[1, k] ? srch[3, k] / srch[1, k] : 0,
               pg[1, k], pg[3, k], sv[1, k], sv[3, k]
    }
}' "$tmp/results"
grep -v '^result ' "$tmp/results" >&2 || true
