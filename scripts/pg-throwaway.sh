#!/usr/bin/env bash
# A throwaway PostgreSQL server from Debian's package, for tests and benchmarks.
#
#   scripts/pg-throwaway.sh start [--watch-pid PID]
#       initdb in a fresh temporary directory (as the `postgres` user when root: initdb
#       refuses root), trust authentication, 127.0.0.1 on a free port, unix socket in
#       that directory. Prints shell `export` lines for COVE_TEST_POSTGRES_URL and
#       COVE_PG_THROWAWAY_DIR (use `eval`). With --watch-pid the server is stopped and
#       removed once process PID has exited.
#       Tests run it with fsync off; COVE_PG_DURABLE=1 keeps PostgreSQL's defaults (fsync,
#       synchronous commit), for benchmarks that compare it with SQLite.
#   scripts/pg-throwaway.sh stop DIR
#       immediate shutdown (the data is thrown away), then removes DIR.
#   scripts/pg-throwaway.sh run -- COMMAND [ARGS...]
#       start, run COMMAND with COVE_TEST_POSTGRES_URL exported, stop; exits with
#       COMMAND's status.
set -euo pipefail

die() { echo "pg-throwaway: $*" >&2; exit 1; }

pg_bin() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV); do
    [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && { echo "$d"; return; }
  done
  die "PostgreSQL server binaries not found under /usr/lib/postgresql: apt-get install postgresql"
}

# Runs a command as the postgres user when root, else as the caller.
as_pg() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

stop() {
  local dir=$1
  [ -n "$dir" ] && [ -d "$dir" ] || return 0
  case "$(basename "$dir")" in cvst-pg.*) ;; *) die "refusing to remove $dir: not a throwaway dir" ;; esac
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_pg "$(pg_bin)/pg_ctl" -D "$dir/data" -m immediate -w -t 60 stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

start() {
  local watch_pid=""
  if [ "${1:-}" = "--watch-pid" ]; then
    watch_pid=${2:?--watch-pid needs a PID}
  fi
  local bin dir port
  bin=$(pg_bin)
  dir=$(mktemp -d /tmp/cvst-pg.XXXXXX)
  chmod 0700 "$dir"
  if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$dir"; fi
  if ! as_pg env LANG=C.UTF-8 "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 \
      --no-sync >"$dir/initdb.log" 2>&1; then
    cat "$dir/initdb.log" >&2
    rm -rf "$dir"
    die "initdb failed"
  fi
  local fast="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  if [ "${COVE_PG_DURABLE:-}" = 1 ]; then fast=""; fi
  local tries=0
  while :; do
    port=$(free_port)
    if as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 $fast -c max_connections=300" \
        start >/dev/null 2>&1; then
      break
    fi
    tries=$((tries + 1))
    if [ "$tries" -ge 5 ]; then
      cat "$dir/server.log" >&2 || true
      rm -rf "$dir"
      die "PostgreSQL did not start (5 ports tried)"
    fi
  done
  if [ -n "$watch_pid" ]; then
    # Stop the server once the watched process has gone (tail polls it each second).
    setsid bash -c 'tail --pid="$1" -f /dev/null; exec bash "$2" stop "$3"' _ \
      "$watch_pid" "$0" "$dir" </dev/null >/dev/null 2>&1 &
  fi
  echo "export COVE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$port/postgres"
  echo "export COVE_PG_THROWAWAY_DIR=$dir"
}

case "${1:-}" in
  start) shift; start "$@" ;;
  stop) stop "${2:?usage: $0 stop DIR}" ;;
  run)
    shift
    [ "${1:-}" = "--" ] && shift
    [ "$#" -gt 0 ] || die "usage: $0 run -- COMMAND [ARGS...]"
    env_lines=$(start)
    eval "$env_lines"
    trap 'stop "$COVE_PG_THROWAWAY_DIR"' EXIT
    set +e
    "$@"
    status=$?
    set -e
    exit "$status"
    ;;
  *) die "usage: $0 start [--watch-pid PID] | stop DIR | run -- COMMAND" ;;
esac
