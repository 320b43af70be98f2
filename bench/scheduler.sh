#!/usr/bin/env bash
# Scheduler tick time with 100,000 attached secrets: none due, and 1,000 due; both stores.
# Usage: bench/scheduler.sh [N]   (target: tick with nothing due < 10 ms at 100k)
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-100000}"
cargo build --release --example scheduler_bench >/dev/null
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
bin="$target_dir/release/examples/scheduler_bench"
tmp=$(mktemp -d)
db="svsched_$$"
cleanup() { rm -rf "$tmp"; psql -q postgres://postgres@127.0.0.1:5432/postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true; }
trap cleanup EXIT
timeout 600 "$bin" "sqlite://$tmp/sched.db" "$N"
if pg_isready -q -h 127.0.0.1 -p 5432; then
  psql -q postgres://postgres@127.0.0.1:5432/postgres -c "CREATE DATABASE $db"
  timeout 600 "$bin" "postgres://postgres@127.0.0.1:5432/$db" "$N"
fi
