#!/usr/bin/env bash
# test_cli.sh - drives every `mlflow-c experiments` and `mlflow-c runs` command
# end to end against file stores in a fresh temp dir: a new store it creates,
# and a copy of the mlruns tree MLflow 2.12.2 itself wrote
# (tests/data/mlflow-2.12/file), checked against that fixture's MANIFEST.json.
#
# usage: test_cli.sh MLFLOW_C QUICKSTART BUILD_DIR   (QUICKSTART is not used)
# python3 appears only as a JSON checker for this script; the product never
# runs it.
set -u

MLFLOW_C=${1:?usage: test_cli.sh MLFLOW_C QUICKSTART BUILD_DIR}
case "$MLFLOW_C" in /*) ;; *) MLFLOW_C="$PWD/$MLFLOW_C" ;; esac
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
FIXTURE="$HERE/../data/mlflow-2.12/file"

tmp=$(mktemp -d /tmp/mlflow-cli-test.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
# The commands must not depend on the caller's environment.
unset MLFLOW_TRACKING_URI MLFLOW_EXPERIMENT_ID MLFLOW_EXPERIMENT_NAME MLFLOW_TRACKING_DIR
export TZ=UTC

cp -R "$FIXTURE/mlruns" "$tmp/fixture" && chmod -R u+w "$tmp/fixture" || exit 1
MANIFEST="$FIXTURE/MANIFEST.json"
NEW="file://$tmp/mlruns"   # a store this script fills
FIX="file://$tmp/fixture"  # the store MLflow wrote

fail_details() { run_details; }

expect_status() { [ "$status" = "$1" ]; report $? "$2"; }
expect_no_out() { [ "$status" = 0 ] && ! grep -Eq -- "$1" "$tmp/out"; report $? "$2"; }
# expect_json PYTHON-EXPRESSION DESC: the expression, over d = the parsed
# stdout (and m = the fixture's MANIFEST), must be true.
expect_json() {
    [ "$status" = 0 ] && python3 - "$tmp/out" "$MANIFEST" "$1" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
m = json.load(open(sys.argv[2]))
ok = eval("(" + sys.argv[3] + ")")  # parenthesised: expressions span lines
if not ok:
    print("  expression was false: " + sys.argv[3])
sys.exit(0 if ok else 1)
EOF
    report $? "$2"
}

# ---------------------------------------------------------------- help, usage

run --version
expect_out '^mlflow-c [0-9]+\.[0-9]+\.[0-9]+' "--version prints the version"
run --help
expect_out '^  experiments ' "--help lists experiments"
expect_out '^  runs ' "--help lists runs"
run help
expect_out '^usage: mlflow-c ' "help with no command is --help"
run help experiments
expect_out '^  rename ' "help experiments lists its sub-commands"
run help experiments create
expect_out '^usage: mlflow-c experiments create --experiment-name NAME' \
    "help experiments create shows its usage"
run experiments --help
expect_out '^  search ' "experiments --help lists sub-commands"
run experiments create --help
expect_out '--artifact-location URI' "experiments create --help lists options"
run runs describe --help
expect_out '^usage: mlflow-c runs describe --run-id ID' "runs describe --help"
run runs --help list
expect_out '^usage: mlflow-c runs list' "runs --help list shows list's help"

run
expect_fail 2 '^usage: mlflow-c' "no command: usage on stderr, status 2"
run frobnicate
expect_fail 2 "'frobnicate' is not a command" "unknown command names the word, status 2"
run help frobnicate
expect_fail 2 "'frobnicate' is not a command" "help for an unknown command, status 2"
run experiments frob
expect_fail 2 "'frob' is not a command of 'mlflow-c experiments'" \
    "unknown sub-command names the word, status 2"
run experiments
expect_fail 2 'usage: mlflow-c experiments <command>' "group without sub-command, status 2"
run experiments search --bogus --tracking-uri "$NEW"
expect_fail 2 "unknown option '--bogus'" "unknown option names the word, status 2"
run runs list --experiment-idd 1
expect_fail 2 "unknown option '--experiment-idd' \(did you mean '--experiment-id'\?\)" \
    "a mistyped option gets a suggestion"
run experiments crete
expect_fail 2 "Did you mean 'create'\?" "a mistyped sub-command gets a suggestion"
run experiments search --bogus=1
expect_fail 2 "unknown option '--bogus'" "unknown --opt=value names the option, status 2"
run --bogus experiments search
expect_fail 2 "unknown option '--bogus'" "unknown option before the command, status 2"
run experiments search -q
expect_fail 2 "unknown option '-q'" "unknown short option, status 2"
run experiments create --tracking-uri "$NEW"
expect_fail 2 "missing required option '--experiment-name'" "missing required option, status 2"
run experiments create --experiment-name
expect_fail 2 "option '--experiment-name' needs a value" "option without its value, status 2"
run experiments search --view sideways
expect_fail 2 "invalid value 'sideways' for --view" "bad --view value, status 2"
run experiments search --max-results many
expect_fail 2 "invalid value 'many' for --max-results" "bad --max-results value, status 2"
run experiments search extra
expect_fail 2 "unexpected argument 'extra'" "positional argument refused, status 2"
run experiments search --json=yes
expect_fail 2 "option '--json' takes no value" "flag given a value, status 2"
run experiments get --tracking-uri "$NEW"
expect_fail 2 "exactly one of" "experiments get needs an id or a name, status 2"
[ ! -e "$tmp/mlruns" ]
report $? "usage errors create no store"

# ------------------------------------------------------------ experiments

run experiments create --experiment-name alpha --tracking-uri "$NEW"
expect_out "^Created experiment 'alpha' with id [0-9]+$" "experiments create"
alpha=$(sed -n "s/^Created experiment 'alpha' with id //p" "$tmp/out")
run experiments create -n beta -l "file://$tmp/beta-art" --tracking-uri="$NEW"
expect_out "^Created experiment 'beta' with id [0-9]+$" "create with -n, -l and --opt=value"
beta=$(sed -n "s/^Created experiment 'beta' with id //p" "$tmp/out")
run experiments create --experiment-name=gamma --tracking-uri "$NEW" --json
expect_json 'd["name"] == "gamma" and d["lifecycle_stage"] == "active" and d["tags"] == {}' \
    "create --json prints the new experiment"
gamma=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["experiment_id"])' \
    "$tmp/out" 2>/dev/null)
[ -n "$alpha" ] && [ -n "$beta" ] && [ -n "$gamma" ] && [ "$alpha" != "$beta" ]
report $? "created experiments have distinct ids"

run experiments create --experiment-name alpha --tracking-uri "$NEW"
expect_fail 1 '^mlflow-c: RESOURCE_ALREADY_EXISTS: .*alpha' \
    "duplicate name: library error, status 1"

run experiments search --tracking-uri "$NEW"
expect_out '^Experiment Id +Name +Artifact Location +Lifecycle Stage$' "search prints a table"
expect_out "^$alpha +alpha +file://.* +active$" "search lists alpha"
expect_out "^$beta +beta +file://$tmp/beta-art +active$" "search shows the artifact location"
run experiments search --tracking-uri "$NEW" --json
expect_json '{"alpha", "beta", "gamma"} <= {e["name"] for e in d}' "search --json"
expect_json 'all(set(e) == {"artifact_location", "creation_time", "experiment_id",
    "last_update_time", "lifecycle_stage", "name", "tags"} for e in d)' \
    "search --json: MLflow's experiment keys"
run experiments search --tracking-uri "$NEW" --max-results 1 --json
expect_json 'len(d) == 1' "search --max-results 1"
run experiments search --tracking-uri "$NEW" --max-results 0 --json
expect_json 'd == []' "search --max-results 0"
run experiments search --tracking-uri "$NEW" --filter "name = 'beta'" --json
expect_json '[e["name"] for e in d] == ["beta"]' "search --filter"
run experiments search --tracking-uri "$NEW" --filter "name LIKE '%a'" --order-by "name DESC" --json
expect_json '[e["name"] for e in d] == ["gamma", "beta", "alpha"]' "search --order-by name DESC"
run experiments search --tracking-uri "$NEW" --order-by "name ASC" --order-by "creation_time DESC" --json
expect_json '[e["name"] for e in d if e["name"] in ("alpha", "beta", "gamma")] ==
    ["alpha", "beta", "gamma"]' "search with two --order-by"
run experiments search --tracking-uri "$NEW" --filter "name = = 'x'"
expect_fail 1 '^mlflow-c: INVALID_PARAMETER_VALUE: ' "bad filter: library error, status 1"

run experiments get --experiment-id "$alpha" --tracking-uri "$NEW"
expect_out '^Name +: alpha$' "get --experiment-id"
expect_out '^Lifecycle Stage +: active$' "get shows the lifecycle stage"
run experiments get -x "$beta" --tracking-uri "$NEW" --json
expect_json 'd["name"] == "beta" and d["artifact_location"] == "file://'"$tmp"'/beta-art"' \
    "get -x --json"
run experiments get --experiment-name beta --tracking-uri "$NEW" --json
expect_json 'd["experiment_id"] == "'"$beta"'"' "get --experiment-name"
run experiments get --experiment-id 999999 --tracking-uri "$NEW"
expect_fail 1 '^mlflow-c: RESOURCE_DOES_NOT_EXIST: .*999999' \
    "unknown experiment id: status 1, message names it"
run experiments get --experiment-name no-such-name --tracking-uri "$NEW"
expect_fail 1 '^mlflow-c: RESOURCE_DOES_NOT_EXIST: .*no-such-name' \
    "unknown experiment name: status 1, message names it"

run experiments rename --experiment-id "$alpha" --new-name alpha2 --tracking-uri "$NEW"
expect_out "^Experiment with id $alpha has been renamed to 'alpha2'\.$" "rename"
run experiments get --experiment-id "$alpha" --tracking-uri "$NEW"
expect_out '^Name +: alpha2$' "rename took effect"
run experiments rename --experiment-id "$alpha" --tracking-uri "$NEW"
expect_fail 2 "missing required option '--new-name'" "rename without --new-name, status 2"

run experiments delete --experiment-id "$alpha" --tracking-uri "$NEW"
expect_out "^Experiment with ID $alpha has been deleted\.$" "delete"
run experiments search --tracking-uri "$NEW"
expect_no_out 'alpha2' "a deleted experiment is not in the active view"
run experiments search --view deleted_only --tracking-uri "$NEW"
expect_out "^$alpha +alpha2 +.* +deleted$" "--view deleted_only shows it"
expect_no_out ' beta ' "--view deleted_only hides active ones"
run experiments search -v ALL --tracking-uri "$NEW" --json
expect_json '{"alpha2": "deleted", "beta": "active"}.items() <=
    {e["name"]: e["lifecycle_stage"] for e in d}.items()' "-v ALL shows both"
run experiments delete --experiment-id 424242 --tracking-uri "$NEW"
expect_fail 1 '^mlflow-c: RESOURCE_DOES_NOT_EXIST: .*424242' \
    "delete of an unknown id: status 1, message names it"
run experiments restore --experiment-id "$alpha" --tracking-uri "$NEW"
expect_out "^Experiment with id $alpha has been restored\.$" "restore"
run experiments delete --experiment-id "$gamma" --tracking-uri "$NEW" --json
expect_json 'd["name"] == "gamma" and d["lifecycle_stage"] == "deleted"' "delete --json"
run experiments restore --experiment-id "$gamma" --tracking-uri "$NEW" --json
expect_json 'd["lifecycle_stage"] == "active"' "restore --json"

# The store can come from the environment, or from options before the command.
MLFLOW_TRACKING_URI="$NEW" run experiments search
expect_out "^$alpha +alpha2 +" "MLFLOW_TRACKING_URI selects the store"
run --tracking-uri "$NEW" --json experiments search
expect_json '"alpha2" in [e["name"] for e in d]' "global options before the command"
mkdir "$tmp/cwd" && cd "$tmp/cwd" || exit 1
run experiments create --experiment-name here
expect_out "^Created experiment 'here'" "without a tracking URI the store is ./mlruns"
[ -d "$tmp/cwd/mlruns" ]
report $? "./mlruns was created"
run experiments search --tracking-uri "$tmp/cwd/mlruns"
expect_out ' here ' "a plain path is a tracking URI too"
cd "$tmp" || exit 1
MLFLOW_TRACKING_URI="file://$tmp/elsewhere" run experiments search --tracking-uri "$NEW"
expect_out "alpha2" "--tracking-uri wins over MLFLOW_TRACKING_URI"

# ------------------------------------------------ reading what MLflow wrote

EXP=326085035685706854
PARENT=1d2480179c7243e9b9b35d881af7e081
DELETED_RUN=2670b4c69a124c63bd35ad0c88f45e74

run experiments search --tracking-uri "$FIX" --view all --json
expect_json 'sorted((e["experiment_id"], e["name"], e["lifecycle_stage"],
    e["artifact_location"], e["tags"]) for e in d) == sorted((e["experiment_id"],
    e["name"], e["lifecycle_stage"], e["artifact_location"], e["tags"])
    for e in m["experiments"])' "MLflow's experiments, as its own client read them"

run runs list --experiment-id $EXP --tracking-uri "$FIX"
expect_out '^Date +Name +ID +Status$' "runs list prints a table"
expect_out "^2026-11-28 16:10:44 +parent run +$PARENT +FINISHED$" \
    "runs list: local start time, name, id, status"
expect_out ' +still running +2545b1e242844cf082645ee4a2140fd0 +RUNNING$' "a RUNNING run"
expect_out ' +failed run +151faa379ccc4ce2b1ae3e669ae98cc5 +FAILED$' "a FAILED run"
expect_out ' +killed run +9c1f5f6ee0ea4c468f2bff2127a1fbb5 +KILLED$' "a KILLED run"
expect_no_out "$DELETED_RUN" "runs list hides deleted runs"
run runs list -x $EXP --view deleted_only --tracking-uri "$FIX"
expect_out "deleted run +$DELETED_RUN +FINISHED$" "runs list --view deleted_only"
expect_no_out "$PARENT" "--view deleted_only hides active runs"
run runs list --experiment-id $EXP --view all --tracking-uri "$FIX" --json
expect_json 'sorted(r["info"]["run_id"] for r in d) == sorted(r["run_id"]
    for r in m["runs"] if r["experiment_id"] == "'$EXP'")' "runs list --view all --json"
run runs list --experiment-id $EXP --tracking-uri "$FIX" --filter "params.generated_name = 'yes'" --json
expect_json '[r["info"]["run_name"] for r in d] == ["learned-ape-798"]' "runs list --filter"
run runs list --experiment-id $EXP --tracking-uri "$FIX" --order-by "attributes.start_time ASC" --json
expect_json '[r["info"]["start_time"] for r in d] == sorted(r["info"]["start_time"] for r in d)
    and len(d) == 6' "runs list --order-by start_time ASC"
run runs list --experiment-id $EXP --tracking-uri "$FIX" --order-by "metrics.loss DESC" --json
expect_json 'd[0]["info"]["run_id"] == "'$PARENT'"' "runs list --order-by a metric"
MLFLOW_EXPERIMENT_ID=0 run runs list --tracking-uri "$FIX"
expect_out ' +default exp run +2ddae89ad79842ceb6db2b856f01cd9d +FINISHED$' \
    "runs list takes the experiment from MLFLOW_EXPERIMENT_ID"
run runs list --tracking-uri "$FIX"
expect_fail 2 "missing required option '--experiment-id'" "runs list without an experiment"
run runs list --experiment-id 123456789 --tracking-uri "$FIX" --json
expect_json 'd == []' "runs list of an unknown experiment is empty, as in MLflow"

run runs describe --run-id $PARENT --tracking-uri "$FIX"
expect_out '^Name +: parent run$' "describe: name"
expect_out '^Status +: FINISHED$' "describe: status"
expect_out '^Start Time +: 2026-11-28 16:10:44$' "describe: start time"
expect_out '^optimizer +adam$' "describe: params"
expect_out '^loss +0\.2 +4 +' "describe: latest metric with its step"
expect_out '^special +-inf +2 ' "describe: -inf as Python shows it"
expect_out '^multi +line one\\nline two$' "describe: a multi-line tag stays on one line"
expect_out '^unicode_ключ +значение ✓$' "describe: unicode params"

run runs describe --run-id $PARENT --tracking-uri "$FIX" --json
expect_json 'list(d) == ["info", "data", "inputs"] and list(d["data"]) == ["metrics",
    "params", "tags"] and d["inputs"] == {"dataset_inputs": []}' \
    "describe --json: the shape of mlflow runs describe"
expect_json 'sorted(d["info"]) == ["artifact_uri", "end_time", "experiment_id",
    "lifecycle_stage", "run_id", "run_name", "run_uuid", "start_time", "status", "user_id"]' \
    "describe --json: MLflow's RunInfo keys"
grep -q '"as_int": 7.0,' "$tmp/out" && grep -q '"big": 1e+300,' "$tmp/out" &&
    grep -q '"tiny": 5e-324' "$tmp/out" && grep -q '"special": "-Infinity",' "$tmp/out"
report $? "describe --json writes numbers as Python does, -inf as \"-Infinity\""

# Every run of the fixture, field by field against what MLflow's client read.
for id in $(python3 -c 'import json,sys; print(" ".join(r["run_id"] for r in
        json.load(open(sys.argv[1]))["runs"]))' "$MANIFEST"); do
    run --json runs describe --run-id "$id" --tracking-uri "$FIX"
    expect_json 'any(d["info"] == {"artifact_uri": r["artifact_uri"],
        "end_time": r["end_time"], "experiment_id": r["experiment_id"],
        "lifecycle_stage": r["lifecycle_stage"], "run_id": r["run_id"],
        "run_name": r["run_name"], "run_uuid": r["run_id"],
        "start_time": r["start_time"], "status": r["status"], "user_id": r["user_id"]}
        and d["data"]["params"] == r["params"] and d["data"]["tags"] == r["tags"]
        and d["data"]["metrics"] == {k: {"nan": "NaN", "inf": "Infinity",
            "-inf": "-Infinity"}.get(v, v) for k, v in r["latest_metrics"].items()}
        for r in m["runs"] if r["run_id"] == "'"$id"'")' "describe --json matches MLflow: $id"
done

run runs describe --run-id 0123456789abcdef0123456789abcdef --tracking-uri "$FIX"
expect_fail 1 '^mlflow-c: RESOURCE_DOES_NOT_EXIST: .*0123456789abcdef0123456789abcdef' \
    "unknown run id: status 1, message names it"
run runs describe --tracking-uri "$FIX"
expect_fail 2 "missing required option '--run-id'" "describe without --run-id, status 2"

run runs delete --run-id $PARENT --tracking-uri "$FIX"
expect_out "^Run with ID $PARENT has been deleted\.$" "runs delete"
run runs list --experiment-id $EXP --tracking-uri "$FIX"
expect_no_out "$PARENT" "a deleted run leaves the active list"
run runs describe --run-id $PARENT --tracking-uri "$FIX" --json
expect_json 'd["info"]["lifecycle_stage"] == "deleted"' "describe shows the deleted run"
run runs restore --run-id $PARENT --tracking-uri "$FIX"
expect_out "^Run with id $PARENT has been restored\.$" "runs restore"
run runs list --experiment-id $EXP --tracking-uri "$FIX"
expect_out "$PARENT" "a restored run is listed again"
run runs delete --run-id $PARENT --tracking-uri "$FIX" --json
expect_json 'd["info"]["run_id"] == "'$PARENT'" and d["info"]["lifecycle_stage"] == "deleted"' \
    "runs delete --json"
MLFLOW_TRACKING_URI="$FIX" run runs restore --run-id $PARENT --json
expect_json 'd["info"]["lifecycle_stage"] == "active"' "runs restore via MLFLOW_TRACKING_URI"
run runs delete --run-id 0123456789abcdef0123456789abcdef --tracking-uri "$FIX"
expect_fail 1 '^mlflow-c: RESOURCE_DOES_NOT_EXIST: .*0123456789abcdef0123456789abcdef' \
    "delete of an unknown run: status 1, message names it"

# ------------------------------------------------------------------ output

if [ -w /dev/full ]; then
    "$MLFLOW_C" experiments search --tracking-uri "$NEW" >/dev/full 2>"$tmp/err"
    status=$?
    : >"$tmp/out"
    expect_fail 1 'cannot write output' "a failed write to stdout is an error"
fi

summary
