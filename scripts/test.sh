#!/usr/bin/env bash
# Every test: installs what the tests need, then builds twice and runs the
# whole CTest suite on each build:
#   build-test   gcc, -Werror
#   build-asan   clang, AddressSanitizer + UBSan (leaks fail the run)
# The two builds are independent; each runs its suite with -j2.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/install-deps.sh" --test
jobs=$(nproc)

cmake -S "$here" -B "$here/build-test" -DCMAKE_BUILD_TYPE=Debug -DMLFLOW_WERROR=ON >/dev/null
cmake --build "$here/build-test" -j"$jobs"
(cd "$here/build-test" && ctest --output-on-failure -j"$jobs" --timeout 300)

cmake -S "$here" -B "$here/build-asan" -DCMAKE_BUILD_TYPE=Debug -DMLFLOW_WERROR=ON \
      -DMLFLOW_SANITIZE=ON -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build "$here/build-asan" -j"$jobs"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd "$here/build-asan" && ctest --output-on-failure -j"$jobs" --timeout 600)
