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
      libcurl4-openssl-dev libmicrohttpd-dev libpq-dev libexpat1-dev nettle-dev zlib1g-dev)
# Node.js and npm build the web UI (web/, embedded into mlflow-c at build
# time; nothing needs them at run time) and run s3rver, the S3 server of the
# S3 tests (tests/s3). libexpat1-dev reads S3's XML answers (s3 artifacts);
# nettle-dev gives MD5 for the file store's dataset folder names;
# zlib1g-dev lets the build embed gzip copies of its files. A node already
# installed (e.g. one newer than Debian's) is kept.
command -v node >/dev/null 2>&1 || pkgs+=(nodejs npm)
if [ "${1:-}" = --test ]; then
  # cmocka runs inside the test programs; clang + compiler-rt give the
  # AddressSanitizer/UBSan build; python3 only drives JSON checks in the
  # shell tests (never the product); postgresql-15 is the server the
  # postgres tests start a throwaway cluster of (tests/pg_fixture.sh);
  # chromium is the browser the web UI's tests drive (tests/ui/).
  pkgs+=(libcmocka-dev clang libclang-rt-14-dev python3 python3-venv zip postgresql-15
         chromium)
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
if command -v node >/dev/null 2>&1; then
  v=$(node --version)
  echo "Node.js $v, npm $(npm --version 2>/dev/null || echo missing): builds the web UI"
  # playwright-core, which drives the browser tests, wants Node.js 20 or newer.
  major=${v#v}
  major=${major%%.*}
  [ "$major" -ge 20 ] 2>/dev/null ||
    echo "note: the web UI's browser tests need Node.js 20 or newer (this is $v)"
fi
