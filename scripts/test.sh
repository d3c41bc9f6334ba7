#!/usr/bin/env bash
# Every test: installs what the tests need, then builds twice and runs the
# whole CTest suite on each build:
#   build-test   gcc, -Werror
#   build-asan   clang, AddressSanitizer + UBSan (leaks fail the run)
# The two builds are independent; each runs its suite with -j2. Both embed
# the same web UI, built from one `npm ci` here; its browser tests (CTest
# `ui`, chromium driven by playwright-core) run in build-test only, since
# the sanitizers add nothing to what a browser sees.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/install-deps.sh" --test
jobs=$(nproc)
(cd "$here/web" && npm ci --no-audit --no-fund)
# s3rver, the S3-compatible server unit/test_s3 starts on 127.0.0.1.
(cd "$here/tests/s3" && npm ci --no-audit --no-fund)

cmake -S "$here" -B "$here/build-test" -DCMAKE_BUILD_TYPE=Debug -DMLFLOW_WERROR=ON >/dev/null
cmake --build "$here/build-test" -j"$jobs"
(cd "$here/build-test" && ctest --output-on-failure -j"$jobs" --timeout 300)

cmake -S "$here" -B "$here/build-asan" -DCMAKE_BUILD_TYPE=Debug -DMLFLOW_WERROR=ON \
      -DMLFLOW_SANITIZE=ON -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
      -DMLFLOW_UI_TESTS=OFF >/dev/null
cmake --build "$here/build-asan" -j"$jobs"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd "$here/build-asan" && ctest --output-on-failure -j"$jobs" --timeout 600)
