#!/usr/bin/env bash
# Signed webhook deliveries per second to a local receiver that verifies every signature,
# both stores. Usage: bench/delivery.sh [K]   (target: >= 2,000 deliveries/s on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
K="${1:-20000}"
cargo build --release --example delivery_bench >/dev/null
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
bin="$target_dir/release/examples/delivery_bench"
tmp=$(mktemp -d)
db="svdeliv_$$"
cleanup() { rm -rf "$tmp"; psql -q postgres://postgres@127.0.0.1:5432/postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true; }
trap cleanup EXIT
RUST_LOG=warn timeout 600 "$bin" "sqlite://$tmp/deliv.db" "$K"
if pg_isready -q -h 127.0.0.1 -p 5432; then
  psql -q postgres://postgres@127.0.0.1:5432/postgres -c "CREATE DATABASE $db"
  RUST_LOG=warn timeout 600 "$bin" "postgres://postgres@127.0.0.1:5432/$db" "$K"
fi
