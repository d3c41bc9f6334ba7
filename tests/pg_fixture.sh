#!/usr/bin/env bash
# pg_fixture.sh - a throwaway PostgreSQL cluster for the tests.
#   pg_fixture.sh start <state-dir>   initdb + pg_ctl start on a free port on
#                                      127.0.0.1; writes <state-dir>/uri
#   pg_fixture.sh stop <state-dir>    stops the cluster and removes it
# The cluster lives in a fresh temporary directory, owned by an unprivileged
# user when we run as root (PostgreSQL refuses to run as root). Durability is
# off (no fsync): the data is thrown away anyway, and tests run faster.
# Without PostgreSQL this fails rather than skips: the test command installs it.
set -euo pipefail
cmd=${1:?usage: pg_fixture.sh start|stop <state-dir>}
state=${2:?usage: pg_fixture.sh start|stop <state-dir>}

bindir=
for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
  if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then bindir=$d; break; fi
done

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u "$owner" -- "$@"; else "$@"; fi
}

owner=$(id -un)
if [ "$(id -u)" = 0 ]; then
  owner=postgres
  id -u "$owner" >/dev/null 2>&1 || owner=mlflow-pg-test
  id -u "$owner" >/dev/null 2>&1 || useradd --system --no-create-home "$owner"
fi

stop() {
  [ -f "$state/datadir" ] || return 0
  local data
  data=$(cat "$state/datadir")
  if [ -n "$bindir" ] && [ -f "$data/postmaster.pid" ]; then
    as_owner "$bindir/pg_ctl" stop -D "$data" -m immediate -s >/dev/null 2>&1 || true
  fi
  rm -rf "$(dirname "$data")"
  rm -f "$state/datadir" "$state/uri"
}

case $cmd in
start)
  if [ -z "$bindir" ]; then
    echo "pg_fixture: PostgreSQL server binaries not found (apt-get install postgresql-15;" \
         "scripts/install-deps.sh --test installs them)" >&2
    exit 1
  fi
  mkdir -p "$state"
  stop
  top=$(mktemp -d /tmp/mlflow-pg.XXXXXX)
  chmod 755 "$top"
  [ "$(id -u)" = 0 ] && chown "$owner" "$top"
  data=$top/data
  echo "$data" >"$state/datadir"
  as_owner "$bindir/initdb" -D "$data" -U postgres --auth=trust --no-sync \
    --encoding=UTF8 --locale=C.UTF-8 >"$top/initdb.log" 2>&1 ||
    { cat "$top/initdb.log" >&2; stop; exit 1; }
  cat >>"$data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$top'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 300
CONF
  # A port picked at random may be taken: pg_ctl then fails, and we try another.
  for attempt in 1 2 3 4 5 6 7 8; do
    port=$((20000 + RANDOM % 40000))
    if as_owner "$bindir/pg_ctl" start -D "$data" -w -t 30 -s -l "$top/server.log" \
         -o "-p $port" >/dev/null 2>&1; then
      echo "postgresql://postgres@127.0.0.1:$port/postgres" >"$state/uri"
      exit 0
    fi
  done
  cat "$top/server.log" >&2 || true
  stop
  echo "pg_fixture: could not start PostgreSQL" >&2
  exit 1
  ;;
stop)
  stop
  ;;
*)
  echo "usage: pg_fixture.sh start|stop <state-dir>" >&2
  exit 2
  ;;
esac
