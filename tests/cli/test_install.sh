#!/usr/bin/env bash
# test_install.sh - installs the build into a temporary prefix and builds a
# user's program against it twice: with pkg-config, and with CMake's
# find_package(mlflow) (shared via pkg-config, static via the CMake target).
# Then runs both.
#
# usage: test_install.sh MLFLOW_C QUICKSTART BUILD_DIR
set -u
BUILD=${3:?}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d /tmp/mlflow-install-test.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
passed=0; failed=0
check() { local what=$1; shift
    if "$@" >"$tmp/log" 2>&1; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $what"; cat "$tmp/log"; fi; }

cache() { sed -n "s/^$1:[A-Z]*=//p" "$BUILD/CMakeCache.txt"; }
CC=$(cache CMAKE_C_COMPILER)
# A sanitizer build's library needs the sanitizer runtime in the program too.
extra=""
[ "$(cache MLFLOW_SANITIZE)" = ON ] && extra="-fsanitize=address,undefined"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}

check "cmake --install" cmake --install "$BUILD" --prefix "$tmp/prefix"
check "header installed" test -f "$tmp/prefix/include/mlflow.h"
pcdir=$(dirname "$(find "$tmp/prefix" -name mlflow.pc | head -n 1)")
check "pkg-config file installed" test -n "$pcdir"
check "cmake config installed" test -n "$(find "$tmp/prefix" -name mlflowConfig.cmake)"

cat >"$tmp/prog.c" <<'C'
#include <mlflow.h>
#include <stdio.h>
int main(void)
{
    MLFLOW_RUN(.run_name = "installed") {
        if (mlflow_log_metric("m", 1.5, 0) != 0) { puts(mlflow_last_error()); return 1; }
    }
    puts("ok");
    return 0;
}
C
export PKG_CONFIG_PATH="$pcdir"
check "build with pkg-config" \
    $CC $extra "$tmp/prog.c" -o "$tmp/prog-pc" $(pkg-config --cflags --libs mlflow)
check "pkg-config program logs a run" sh -c "cd '$tmp' && LD_LIBRARY_PATH='$tmp/prefix/lib' MLFLOW_TRACKING_URI='file://$tmp/pc' ./prog-pc | grep -qx ok && test -d '$tmp/pc/0'"

mkdir -p "$tmp/cm"
cat >"$tmp/cm/CMakeLists.txt" <<C
cmake_minimum_required(VERSION 3.20)
project(user C CXX)
find_package(mlflow REQUIRED)
add_executable(prog $tmp/prog.c)
target_compile_options(prog PRIVATE $extra)
target_link_options(prog PRIVATE $extra)
target_link_libraries(prog PRIVATE mlflow::mlflow_static)
C
check "configure with find_package(mlflow)" \
    cmake -S "$tmp/cm" -B "$tmp/cm/build" -DCMAKE_PREFIX_PATH="$tmp/prefix" -DCMAKE_C_COMPILER="$CC" \
        -DCMAKE_CXX_COMPILER="$(cache CMAKE_CXX_COMPILER)"
check "build with find_package(mlflow)" cmake --build "$tmp/cm/build"
check "find_package program (static) logs a run" sh -c "cd '$tmp' && MLFLOW_TRACKING_URI='file://$tmp/cmk' ./cm/build/prog | grep -qx ok && test -d '$tmp/cmk/0'"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
