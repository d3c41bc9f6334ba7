#!/usr/bin/env bash
# test_migrate.sh - `mlflow-c migrate SRC_URI DST_URI` end to end: a copy of
# the mlruns tree MLflow 2.12.2 wrote goes into a fresh SQLite database and
# back into a file store; exit statuses, the summary, progress lines on
# stderr (and --quiet), reruns that copy nothing, and the errors. Then the
# same tree into PostgreSQL (the server of tests/pg_fixture.sh, named by
# MLFLOW_TEST_PG_URI_FILE), whose 32-bit experiment ids cannot hold the file
# store's 18-digit ones: those experiments get new ids, printed as
# OLD -> NEW, their runs keep theirs, and a rerun finds the copies.
#
# usage: test_migrate.sh MLFLOW_C QUICKSTART BUILD_DIR   (QUICKSTART is not used)
# python3 appears only as a JSON checker for this script.
set -u

MLFLOW_C=${1:?usage: test_migrate.sh MLFLOW_C QUICKSTART BUILD_DIR}
case "$MLFLOW_C" in /*) ;; *) MLFLOW_C="$PWD/$MLFLOW_C" ;; esac
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
FIXTURE="$HERE/../data/mlflow-2.12/file"

tmp=$(mktemp -d /tmp/mlflow-migrate-test.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
unset MLFLOW_TRACKING_URI MLFLOW_EXPERIMENT_ID MLFLOW_EXPERIMENT_NAME MLFLOW_TRACKING_DIR

cp -R "$FIXTURE/mlruns" "$tmp/src" && chmod -R u+w "$tmp/src" || exit 1
SRC="file://$tmp/src"
DB="sqlite:///$tmp/dst.db"
BACK="$tmp/back"

fail_details() { run_details; }

expect_err() { grep -Eq -- "$1" "$tmp/err"; report $? "$2"; }

# ---------------------------------------------------------------- help, usage

run --help
expect_out '^  migrate ' "--help lists migrate"
run migrate --help
expect_out 'SRC_URI DST_URI' "migrate --help shows the arguments"
expect_out 'artifact' "migrate --help says what happens to artifacts"
run migrate "$SRC"
expect_fail 2 'SRC_URI and DST_URI' "one argument is a usage error (status 2)"
run migrate "$SRC" "$DB" extra
expect_fail 2 'got 3' "three arguments are a usage error"
run migrate "$SRC" "$DB" --no-such-option
expect_fail 2 'no-such-option' "an unknown option is a usage error"

# ------------------------------------------------------------------ copying

run migrate "$SRC" "$DB" --progress-every 3
expect_out '^Copied 4 of 5 experiments and 10 of 10 runs' "file -> sqlite copies everything"
[ "$(grep -c 'runs checked' "$tmp/err")" = 3 ]
report $? "a progress line on stderr every 3 runs"
expect_err '^mlflow-c migrate: 9 runs checked, 9 copied' "progress lines count the runs"
! grep -q "new ids" "$tmp/out" && ! grep -q -- "->" "$tmp/err"
report $? "SQLite holds the 18-digit experiment ids: none is renumbered"

run migrate "$SRC" "$DB"
expect_out '^Copied 0 of 5 experiments and 0 of 10 runs' "a rerun copies nothing"
[ ! -s "$tmp/err" ]
report $? "fewer than 100 runs: no progress line by default"

run runs list --experiment-id 326085035685706854 --view all --tracking-uri "$DB" --json
[ "$status" = 0 ] && python3 -c '
import json, sys
runs = json.load(open(sys.argv[1]))
sys.exit(0 if len(runs) > 0 and all(len(r["info"]["run_id"]) == 32 for r in runs) else 1)
' "$tmp/out"
report $? "the copied runs are listed from the database"

run migrate "$DB" "$BACK" --quiet --progress-every 1 --json
[ "$status" = 0 ] && [ ! -s "$tmp/err" ] && python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if d["runs"] == 10 and d["runs_copied"] == 10 and d["experiments"] == 5 else 1)
' "$tmp/out"
report $? "sqlite -> file, --quiet prints no progress, --json gives the counts"
[ -f "$BACK/.trash/458431113462649809/meta.yaml" ]
report $? "the deleted experiment lands in .trash"

# ------------------------------------------------------------------ errors

run migrate "$tmp/nowhere" "$DB"
expect_fail 1 '^mlflow-c: RESOURCE_DOES_NOT_EXIST: .*nowhere' "a missing source: status 1"
[ ! -e "$tmp/nowhere" ]
report $? "a missing source is not created"
run migrate "$SRC" "http://127.0.0.1:9"
expect_fail 1 "^mlflow-c: NOT_IMPLEMENTED: The 'rest' store" "a server destination is refused"

# ------------------------------------------------------- into PostgreSQL

if [ -z "${MLFLOW_TEST_PG_URI_FILE:-}" ]; then
    echo "skip - PostgreSQL part: MLFLOW_TEST_PG_URI_FILE is not set (ctest sets it)"
else
    PSQL=$(command -v psql || ls /usr/lib/postgresql/*/bin/psql 2>/dev/null | head -1)
    server=$(cat "$MLFLOW_TEST_PG_URI_FILE" 2>/dev/null)
    schema="migrate_$$"
    [ -n "$server" ] && [ -n "$PSQL" ] &&
        "$PSQL" -qX "$server" -c "CREATE SCHEMA $schema; CREATE SCHEMA ${schema}_taken" >/dev/null
    report $? "a fresh schema in the test PostgreSQL server"
    trap '"$PSQL" -qX "$server" -c "DROP SCHEMA IF EXISTS $schema CASCADE;
          DROP SCHEMA IF EXISTS ${schema}_taken CASCADE" >/dev/null 2>&1; rm -rf "$tmp"' EXIT
    PG="$server?options=-csearch_path%3D$schema"

    run migrate "$SRC" "$PG"
    expect_out '^Copied 4 of 5 experiments and 10 of 10 runs' "file -> postgres copies everything"
    expect_out '^4 experiments got new ids' "the summary counts the renumbered experiments"
    new_id=$(sed -n 's/^  326085035685706854 -> \([0-9]*\)  fixture-exp$/\1/p' "$tmp/out")
    [ -n "$new_id" ] && [ "$new_id" -lt 100 ]
    report $? "the summary maps the 18-digit id to a small new one ($new_id)"
    expect_err "^mlflow-c migrate: experiment 'fixture-exp': id 326085035685706854 -> $new_id " \
        "stderr shows each mapping as it happens"
    cp "$tmp/out" "$tmp/first"

    run runs list --experiment-id "$new_id" --view all --tracking-uri "$PG" --json
    [ "$status" = 0 ] && python3 -c '
import json, os, sys
got = sorted(r["info"]["run_id"] for r in json.load(open(sys.argv[1])))
src = sorted(d for d in os.listdir(sys.argv[2]) if len(d) == 32)
sys.exit(0 if got and got == src and all(
    r["info"]["experiment_id"] == sys.argv[3] for r in json.load(open(sys.argv[1]))) else 1)
' "$tmp/out" "$tmp/src/326085035685706854" "$new_id"
    report $? "the runs keep their ids and move to the new experiment id"

    run runs list --experiment-id 0 --tracking-uri "$PG" --json
    [ "$status" = 0 ] && python3 -c '
import json, sys
sys.exit(0 if len(json.load(open(sys.argv[1]))) > 0 else 1)' "$tmp/out"
    report $? "experiment 0 keeps its id"

    run migrate "$SRC" "$PG"
    expect_out '^Copied 0 of 5 experiments and 0 of 10 runs' "a rerun into postgres copies nothing"
    diff <(sed 1d "$tmp/first") <(sed 1d "$tmp/out") >/dev/null
    report $? "a rerun finds the same mapping"

    run experiments create --experiment-name after-migrate --tracking-uri "$PG" --json
    [ "$status" = 0 ] && python3 -c '
import json, sys
sys.exit(0 if int(json.load(open(sys.argv[1]))["experiment_id"]) == 5 else 1)' "$tmp/out"
    report $? "experiments created afterwards take the next id"

    TAKEN="$server?options=-csearch_path%3D${schema}_taken"
    run experiments create --experiment-name fixture-exp --tracking-uri "$TAKEN"
    run migrate "$SRC" "$TAKEN"
    expect_fail 1 "RESOURCE_ALREADY_EXISTS: .*'fixture-exp' \(id 326085035685706854\)" \
        "a name taken by another experiment is refused, not merged into"
fi

summary
