#!/usr/bin/env bash
# Runs the whole test suite against both stores.
# PostgreSQL: uses $SCAIVAULT_TEST_PG_URL if set, else a server answering on 127.0.0.1:5432,
# else starts a throwaway cluster under target/pgtest (installing Debian's postgresql package
# when it is missing and we are root). SQLite needs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_STARTED_DIR=""
cleanup() {
  if [ -n "$PG_STARTED_DIR" ]; then
    run_as_pg "$PG_BIN/pg_ctl" -D "$PG_STARTED_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

run_as_pg() {
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

find_pg_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return 0; }
  return 1
}

start_throwaway_pg() {
  if ! PG_BIN=$(find_pg_bin); then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
      echo "test.sh: installing postgresql (Debian package)" >&2
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
      PG_BIN=$(find_pg_bin)
    else
      echo "test.sh: no PostgreSQL found and cannot install it (need root); the suite needs PostgreSQL" >&2
      exit 1
    fi
  fi
  local dir port=55432
  dir="$(pwd)/target/pgtest"
  rm -rf "$dir" && mkdir -p "$dir"
  if [ "$(id -u)" = "0" ]; then chown postgres "$dir"; fi
  run_as_pg "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >/dev/null
  run_as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=400" start >/dev/null
  PG_STARTED_DIR="$dir"
  export SCAIVAULT_TEST_PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
  echo "test.sh: started throwaway PostgreSQL on port $port" >&2
}

if [ -z "${SCAIVAULT_TEST_PG_URL:-}" ]; then
  if command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432; then
    export SCAIVAULT_TEST_PG_URL="postgres://postgres@127.0.0.1:5432/postgres"
  else
    start_throwaway_pg
  fi
fi

# Drop databases left by earlier runs (each test makes its own svt_* database).
if command -v psql >/dev/null; then
  psql "$SCAIVAULT_TEST_PG_URL" -Atqc "SELECT datname FROM pg_database WHERE datname LIKE 'svt\_%'" 2>/dev/null |
    while read -r db; do psql "$SCAIVAULT_TEST_PG_URL" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true; done
fi

echo "test.sh: PostgreSQL at ${SCAIVAULT_TEST_PG_URL}" >&2
cargo test --all-targets "$@"
