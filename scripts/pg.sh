#!/usr/bin/env bash
# A throwaway PostgreSQL 15 for the shared-ledger tests: initdb in a temp dir, loopback only, a
# `shipit` role with a password (scram), database `shipit`. Runs as the `postgres` OS user.
#   scripts/pg.sh up | down | status | url
set -euo pipefail
DIR=${SHIPIT_PG_DIR:-/tmp/shipit-pg}
PORT=${SHIPIT_PG_PORT:-15432}
PASSWORD=${SHIPIT_PG_PASSWORD:-shipit-test-password}
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
die() { echo "pg: $*" >&2; exit 1; }
as_pg() { if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi; }

case "${1:-}" in
  up)
    [ -n "$BIN" ] || die "PostgreSQL is not installed (apt-get install postgresql)"
    id postgres >/dev/null 2>&1 || die "no postgres OS user (install the postgresql package)"
    if [ ! -f "$DIR/data/PG_VERSION" ]; then
      mkdir -p "$DIR" && chown postgres: "$DIR" && chmod 700 "$DIR"
      printf '%s\n' "$PASSWORD" > "$DIR/pw" && chown postgres: "$DIR/pw" && chmod 600 "$DIR/pw"
      as_pg "$BIN/initdb" -D "$DIR/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 -E UTF8 >/dev/null
      cat >> "$DIR/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$DIR'
fsync = off
synchronous_commit = off
CONF
    fi
    if ! as_pg "$BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
      # The port on the command line: a data directory made earlier with another port still works.
      as_pg "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -o "-p $PORT" -w start >/dev/null
    fi
    as_pg psql -h "$DIR" -p "$PORT" -U postgres -qtAc "SELECT 1 FROM pg_roles WHERE rolname = 'shipit'" | grep -q 1 || \
      as_pg psql -h "$DIR" -p "$PORT" -U postgres -qc "CREATE ROLE shipit LOGIN PASSWORD '$PASSWORD'" >/dev/null
    as_pg psql -h "$DIR" -p "$PORT" -U postgres -qtAc "SELECT 1 FROM pg_database WHERE datname = 'shipit'" | grep -q 1 || \
      as_pg psql -h "$DIR" -p "$PORT" -U postgres -qc "CREATE DATABASE shipit OWNER shipit" >/dev/null
    echo "pg: up on 127.0.0.1:$PORT (database shipit, role shipit; password in $DIR/pw)"
    ;;
  down)
    [ -f "$DIR/data/PG_VERSION" ] && as_pg "$BIN/pg_ctl" -D "$DIR/data" -m fast stop >/dev/null 2>&1 || true
    echo "pg: stopped"
    ;;
  status) as_pg "$BIN/pg_ctl" -D "$DIR/data" status 2>/dev/null | head -1 || echo "pg: down" ;;
  url) echo "postgres://shipit@127.0.0.1:$PORT/shipit" ;;
  *) die "usage: $0 up|down|status|url" ;;
esac
