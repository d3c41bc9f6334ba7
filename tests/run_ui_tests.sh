#!/usr/bin/env bash
# The CTest test `ui`: runs the web UI's browser tests, tests/ui/test_*.mjs,
# with node's test runner (named one by one: node 20 does not pick up
# test_*.mjs from a directory). Exits 77, which CTest counts as skipped,
# when what they need is not installed, and says what is missing.
#   run_ui_tests.sh SOURCE_DIR      (env: MLFLOW_C, UI_SEED, UI_ARTIFACTS)
set -u
src=${1:?usage: run_ui_tests.sh SOURCE_DIR}
skip() {
  echo "SKIPPED: the web UI's browser tests: $*"
  exit 77
}
command -v node >/dev/null 2>&1 ||
  skip "node not found (scripts/install-deps.sh installs it)"
chromium=${CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium" ] ||
  skip "$chromium not found (scripts/install-deps.sh --test installs Debian's chromium)"
[ -d "$src/web/node_modules/playwright-core" ] ||
  skip "web/node_modules has no playwright-core (run npm ci in web/)"
shopt -s nullglob
tests=("$src"/tests/ui/test_*.mjs)
[ ${#tests[@]} -gt 0 ] || skip "no tests/ui/test_*.mjs"
mkdir -p "${UI_ARTIFACTS:-/tmp/ui-artifacts}"
echo "node $(node --version), $("$chromium" --version 2>/dev/null | head -n 1)"
echo "screenshots: ${UI_ARTIFACTS:-/tmp/ui-artifacts}"
exec node --test --test-reporter=spec "${tests[@]}"
