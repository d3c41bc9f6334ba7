#!/usr/bin/env bash
# Installs what mlflow-c needs from Debian 12 packages.
#   scripts/install-deps.sh          build + run dependencies
#   scripts/install-deps.sh --test   also what the test suite needs
set -euo pipefail
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
# git and unzip fetch MLflow projects (mlflow-c run) from repositories and archives.
pkgs=(build-essential cmake pkg-config git unzip
      libyaml-dev libjson-c-dev libdouble-conversion-dev libsqlite3-dev
      libcurl4-openssl-dev libmicrohttpd-dev libpq-dev)
if [ "${1:-}" = --test ]; then
  # cmocka runs inside the test programs; clang + compiler-rt give the
  # AddressSanitizer/UBSan build; python3 only drives JSON checks in the
  # shell tests (never the product); postgresql-15 is the server the
  # postgres tests start a throwaway cluster of (tests/pg_fixture.sh).
  pkgs+=(libcmocka-dev clang libclang-rt-14-dev python3 python3-venv zip postgresql-15)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${missing[@]}"
fi
