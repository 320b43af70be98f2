#!/usr/bin/env bash
# A second opinion on the Vault KV v2 dialect: Python's hvac against the real binary.
# Builds scaivault (debug), starts `serve --dev` on SQLite in a temp folder, runs
# scripts/vault-hvac-check.py with hvac from PyPI (in a venv under /var/tmp), stops the server.
#   scripts/vault-hvac-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/scaivault-target}"
venv="${HVAC_VENV:-/var/tmp/scaivault-hvac-venv}"

cargo build --quiet --bin scaivault
if ! "$venv/bin/python" -c "import hvac" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet hvac
fi

work=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
token="skt_hvaccheck$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
SCAIVAULT_LISTEN="127.0.0.1:$port" SCAIVAULT_ROOT_TOKEN="$token" SCAIVAULT_DATA_DIR="$work/data" \
  "$CARGO_TARGET_DIR/debug/scaivault" serve --dev >"$work/server.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/v1/health" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.1
done
VAULT_ADDR="http://127.0.0.1:$port" VAULT_TOKEN="$token" "$venv/bin/python" scripts/vault-hvac-check.py
