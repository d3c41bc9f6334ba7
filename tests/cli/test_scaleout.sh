#!/usr/bin/env bash
# test_scaleout.sh - the production shape of docs/deploying.md on one
# machine: three `mlflow-c server` processes on their own ports over one
# PostgreSQL database and one shared --artifacts-destination directory.
# Clients (curl, a few at a time) spread their writes over all three servers,
# request by request: create a run on one, log a batch through the next,
# upload an artifact through the third. Then:
#   - every server answers a search with the same runs and the same values,
#     and the counts equal what the servers acknowledged (HTTP 200);
#   - every acknowledged artifact downloads, byte for byte, through a server
#     other than the one that took the upload;
#   - two servers asked to create the same experiment name at the same time
#     give one success and one RESOURCE_ALREADY_EXISTS, round after round;
#   - a server killed with SIGKILL in the middle of the load loses no write
#     it acknowledged: the other two (and a fresh one started afterwards)
#     show every one of them.
#
# usage: test_scaleout.sh MLFLOW_C QUICKSTART BUILD_DIR   (only MLFLOW_C is used)
# Needs the PostgreSQL server of tests/pg_fixture.sh, named by the file in
# MLFLOW_TEST_PG_URI_FILE (ctest's postgres fixture), psql, curl, and
# python3 as a JSON checker. The test works in a fresh schema of its own.
set -u

MLFLOW_C=${1:?usage: test_scaleout.sh MLFLOW_C QUICKSTART BUILD_DIR}
case "$MLFLOW_C" in /*) ;; *) MLFLOW_C="$PWD/$MLFLOW_C" ;; esac
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CLIENTS=6       # concurrent clients
ITERS=10        # run + batch + artifact per client and iteration, phase 1
ITERS_KILL=12   # the same in phase 2, during which server 2 is killed
POINTS=20       # metric points per batch
RACES=5         # rounds of two servers creating one experiment name

tmp=$(mktemp -d /tmp/mlflow-scaleout-test.XXXXXX) || exit 1
pids=()
PSQL=$(command -v psql || ls /usr/lib/postgresql/*/bin/psql 2>/dev/null | head -1)
server=
schema="scaleout_$$"
cleanup() {
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
    wait 2>/dev/null
    [ -n "$server" ] && "$PSQL" -qX "$server" -c "DROP SCHEMA IF EXISTS $schema CASCADE" \
        >/dev/null 2>&1
    rm -rf "$tmp"
}
trap cleanup EXIT
cd "$tmp" || exit 1
unset MLFLOW_BACKEND_STORE_URI MLFLOW_DEFAULT_ARTIFACT_ROOT MLFLOW_ARTIFACTS_DESTINATION \
    MLFLOW_HOST MLFLOW_PORT MLFLOW_WORKERS MLFLOW_STATIC_PREFIX MLFLOW_SERVE_ARTIFACTS \
    MLFLOW_ARTIFACTS_ONLY MLFLOW_TRACKING_URI

fail_details() {
    for i in 0 1 2 3; do
        [ -f "$tmp/log.$i" ] || continue
        echo "  --- server $i log (errors)"
        grep -v '" 200 ' "$tmp/log.$i" | sed -n '1,10s/^/  /p'
    done
}

server=$(cat "${MLFLOW_TEST_PG_URI_FILE:-/nonexistent}" 2>/dev/null)
if [ -z "$server" ] || [ -z "$PSQL" ]; then
    echo "FAIL - no PostgreSQL server (run through ctest, whose fixture starts one) or no psql"
    exit 1
fi
"$PSQL" -qX "$server" -c "CREATE SCHEMA $schema" >/dev/null
report $? "a fresh schema in the test PostgreSQL server"
PG="$server?options=-csearch_path%3D$schema"
mkdir -p "$tmp/art" "$tmp/acks"

ports=()
# start_server I: one server on a free port, its log in $tmp/log.I.
start_server() {
    "$MLFLOW_C" server --backend-store-uri "$PG" --artifacts-destination "$tmp/art" \
        --host 127.0.0.1 --port 0 --workers 8 2>"$tmp/log.$1" &
    pids[$1]=$!
}
wait_port() { # wait_port I: sets ports[I]
    ports[$1]=$(listen_port "$tmp/log.$1" "${pids[$1]}")
    [ -n "${ports[$1]}" ]
}

# All three at once on the empty schema: they race to create MLflow's
# tables, and every one must come up.
for i in 0 1 2; do start_server "$i"; done
ok=0
for i in 0 1 2; do wait_port "$i" || ok=1; done
report $ok "three servers start together on one empty database (ports ${ports[*]})"
[ $ok = 0 ] || exit 1

url() { echo "http://127.0.0.1:${ports[$1]}$2"; }

# post I PATH BODY OUT: prints the HTTP status (000: no answer).
post() {
    curl -s -o "$4" -w '%{http_code}' --max-time 20 -X POST \
        -H 'Content-Type: application/json' -d "$3" "$(url "$1" "/api/2.0/mlflow/$2")"
}

code=$(post 0 experiments/create '{"name": "scaleout"}' "$tmp/exp.json")
exp=$(sed -n 's/.*"experiment_id": *"\([0-9]*\)".*/\1/p' "$tmp/exp.json")
[ "$code" = 200 ] && [ -n "$exp" ]
report $? "an experiment for the load (id $exp)"

# client C ITERS PHASE: ITERS rounds of create run / log batch / upload,
# request k of the client going to server (C + k) % 3, skipping servers
# the test has killed. Each acknowledged write is one line in
# $tmp/acks/PHASE.C: "run ID", "batch ID", "artifact ID".
client() {
    local c=$1 iters=$2 phase=$3 k=$1 i s code run body out="$tmp/c.$3.$1"
    local acks="$tmp/acks/$phase.$c"
    next_server() {
        s=$((k % 3)); k=$((k + 1))
        while [ -e "$tmp/killed.$s" ]; do s=$((k % 3)); k=$((k + 1)); done
    }
    for i in $(seq 1 "$iters"); do
        next_server
        body="{\"experiment_id\": \"$exp\", \"run_name\": \"p$phase-c$c-i$i\","
        body+=" \"start_time\": $((1700000000000 + i))}"
        code=$(post "$s" runs/create "$body" "$out")
        run=$(sed -n 's/.*"run_id": *"\([0-9a-f]*\)".*/\1/p' "$out")
        [ "$code" = 200 ] && [ -n "$run" ] || continue
        echo "run $run" >>"$acks"

        next_server
        body="{\"run_id\": \"$run\", \"metrics\": ["
        for p in $(seq 0 $((POINTS - 1))); do
            body+="{\"key\": \"loss\", \"value\": $c.$i$p,"
            body+=" \"timestamp\": $((1700000000000 + p)), \"step\": $p},"
        done
        body="${body%,}], \"params\": [{\"key\": \"client\", \"value\": \"$c\"},"
        body+=" {\"key\": \"iter\", \"value\": \"$i\"}],"
        body+=" \"tags\": [{\"key\": \"phase\", \"value\": \"$phase\"}]}"
        code=$(post "$s" runs/log-batch "$body" "$out")
        [ "$code" = 200 ] && echo "batch $run" >>"$acks"

        next_server
        code=$(curl -s -o "$out" -w '%{http_code}' --max-time 20 -X PUT \
            --data-binary "artifact of $run" \
            "$(url "$s" "/api/2.0/mlflow-artifacts/artifacts/$exp/$run/artifacts/note.txt")")
        [ "$code" = 200 ] && echo "artifact $run" >>"$acks"
    done
}

# search_all I OUT: every run of the experiment as server I sees it,
# normalised (sorted, with params, tags, latest metrics and history size).
search_all() {
    post "$1" runs/search "{\"experiment_ids\": [\"$exp\"], \"max_results\": 1000}" \
        "$tmp/search.$1.raw" >"$tmp/search.$1.code" &&
        python3 - "$tmp/search.$1.raw" >"$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert "next_page_token" not in d, "more than one page"
out = []
for r in d.get("runs", []):
    data = r.get("data", {})
    out.append({
        "id": r["info"]["run_id"],
        "name": r["info"].get("run_name"),
        "params": sorted((p["key"], p["value"]) for p in data.get("params", [])),
        "tags": sorted((t["key"], t["value"]) for t in data.get("tags", [])),
        "metrics": sorted((m["key"], m["value"], m["step"]) for m in data.get("metrics", [])),
    })
json.dump(sorted(out, key=lambda r: r["id"]), sys.stdout, indent=1, sort_keys=True)
PY
}

# check_acks PHASES SEARCH: every acknowledged run and batch of the given
# phases is in the search result; prints the number of runs acknowledged.
check_acks() {
    cat $(for p in $1; do ls "$tmp"/acks/"$p".* 2>/dev/null; done) /dev/null >"$tmp/acks.txt"
    python3 - "$tmp/acks.txt" "$2" "$POINTS" <<'PY'
import json, sys
acks = [l.split() for l in open(sys.argv[1]) if l.strip()]
runs = {r["id"]: r for r in json.load(open(sys.argv[2]))}
last = int(sys.argv[3]) - 1
bad = []
for kind, run in acks:
    r = runs.get(run)
    if r is None:
        bad.append(f"{kind} {run}: run missing")
    elif kind == "batch":
        if not any(m[0] == "loss" and m[2] == last for m in r["metrics"]) or \
                not any(p[0] == "client" for p in r["params"]):
            bad.append(f"batch {run}: data missing: {r}")
for b in bad[:10]:
    print(b, file=sys.stderr)
print(sum(1 for k, _ in acks if k == "run"))
sys.exit(1 if bad else 0)
PY
}

# ------------------------------------------------ phase 1: all three up

t0=$(date +%s%N)
cpids=()
for c in $(seq 0 $((CLIENTS - 1))); do client "$c" "$ITERS" 1 & cpids+=($!); done
wait "${cpids[@]}"
t1=$(date +%s%N)
total=$((CLIENTS * ITERS))
acked_runs=$(cat "$tmp"/acks/1.* 2>/dev/null | grep -c '^run ')
acked_all=$(cat "$tmp"/acks/1.* 2>/dev/null | wc -l)
[ "$acked_all" = $((total * 3)) ]
report $? "phase 1: all $((total * 3)) writes acknowledged over three servers (in $((
    (t1 - t0) / 1000000)) ms)"

for i in 0 1 2; do search_all "$i" "$tmp/view.$i.json"; done
cmp -s "$tmp/view.0.json" "$tmp/view.1.json" && cmp -s "$tmp/view.0.json" "$tmp/view.2.json"
report $? "every server shows the same runs with the same params, tags and metrics"
n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$tmp/view.0.json")
[ "$n" = "$acked_runs" ] && [ "$n" = "$total" ]
report $? "runs in the database = runs acknowledged ($n of $acked_runs)"
check_acks 1 "$tmp/view.1.json" >/dev/null
report $? "every acknowledged batch is there, read through another server"

# Each history point logged through one server, read through another.
n=0
for run in $(grep -h '^batch ' "$tmp"/acks/1.* | awk '{print $2}' | head -12); do
    for i in 0 1 2; do
        n=$((n + 1))
        curl -s --max-time 10 -o "$tmp/hist.$n.json" \
            "$(url "$i" "/api/2.0/mlflow/metrics/get-history?run_id=$run&metric_key=loss")"
    done
done
python3 - "$POINTS" "$tmp"/hist.*.json <<'PY'
import json, sys
want = list(range(int(sys.argv[1])))
sys.exit(0 if len(sys.argv) > 30 and all(
    [m["step"] for m in json.load(open(f))["metrics"]] == want for f in sys.argv[2:]) else 1)
PY
report $? "metric histories read the same through every server, in logging order"

# Artifacts: uploaded through server k, downloaded through k + 1.
ok=0
k=0
for run in $(grep -h '^artifact ' "$tmp"/acks/1.* | awk '{print $2}'); do
    k=$(((k + 1) % 3))
    got=$(curl -s --max-time 10 \
        "$(url "$k" "/api/2.0/mlflow-artifacts/artifacts/$exp/$run/artifacts/note.txt")")
    [ "$got" = "artifact of $run" ] || { ok=1; echo "  artifact of $run: got '$got'"; }
done
report $ok "every acknowledged artifact downloads through every other server"

# ------------------------------------------------ concurrent creates

ok=0
for r in $(seq 1 $RACES); do
    post 0 experiments/create "{\"name\": \"race-$r\"}" "$tmp/race.a" >"$tmp/race.a.code" &
    a=$!
    post 1 experiments/create "{\"name\": \"race-$r\"}" "$tmp/race.b" >"$tmp/race.b.code" &
    wait "$a" $!
    codes=$(printf '%s\n%s\n' "$(cat "$tmp/race.a.code")" "$(cat "$tmp/race.b.code")" | sort |
        tr '\n' ' ')
    exists=$(cat "$tmp/race.a" "$tmp/race.b" | grep -c RESOURCE_ALREADY_EXISTS)
    if [ "$codes" != "200 400 " ] || [ "$exists" != 1 ]; then
        ok=1
        echo "  round $r: statuses $codes; $(cat "$tmp/race.a" "$tmp/race.b" | tr -d '\n')"
    fi
done
report $ok "$RACES rounds of two servers creating one name: one 200, one RESOURCE_ALREADY_EXISTS"

# ------------------------------------------------ phase 2: SIGKILL one

cpids=()
for c in $(seq 0 $((CLIENTS - 1))); do client "$c" "$ITERS_KILL" 2 & cpids+=($!); done
# Kill server 2 once the load is well under way.
for _ in $(seq 1 200); do
    [ "$(cat "$tmp"/acks/2.* 2>/dev/null | wc -l)" -ge $((CLIENTS * 6)) ] && break
    sleep 0.05
done
kill -KILL "${pids[2]}"
touch "$tmp/killed.2"
wait "${pids[2]}" 2>/dev/null
killed_at=$(cat "$tmp"/acks/2.* | wc -l)
wait "${cpids[@]}"
acked2=$(cat "$tmp"/acks/2.* | wc -l)
[ "$killed_at" -gt 0 ] && [ "$acked2" -gt "$killed_at" ]
report $? "phase 2: server 2 killed with SIGKILL after $killed_at acknowledged writes; the load \
went on ($acked2 in all)"

for i in 0 1; do search_all "$i" "$tmp/view2.$i.json"; done
cmp -s "$tmp/view2.0.json" "$tmp/view2.1.json"
report $? "the two survivors show the same runs and values"
check_acks "1 2" "$tmp/view2.0.json" >"$tmp/count"
report $? "no acknowledged write is lost ($(cat "$tmp/count") runs acknowledged in all)"
n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$tmp/view2.0.json")
attempted=$((CLIENTS * (ITERS + ITERS_KILL)))
[ "$n" -ge "$(cat "$tmp/count")" ] && [ "$n" -le "$attempted" ]
report $? "runs in the database ($n) lie between acknowledged and attempted ($attempted)"

# A replacement server sees it all too: servers keep no state of their own.
rm -f "$tmp/killed.2"
start_server 3
wait_port 3
ports[2]=${ports[3]}
search_all 2 "$tmp/view2.3.json"
cmp -s "$tmp/view2.0.json" "$tmp/view2.3.json"
report $? "a server started after the kill shows the same runs and values"

for i in 0 1 3; do kill -TERM "${pids[$i]}"; done
st=0
for i in 0 1 3; do wait "${pids[$i]}" || st=1; done
pids=()
report $st "SIGTERM stops the servers with exit status 0"

summary
