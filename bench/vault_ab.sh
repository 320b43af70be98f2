#!/usr/bin/env bash
# The Vault dialect's read against the native audited read of the same secret, alternated in
# one session so both see the same machine: `GET /v1/secrets/bench/s` (Bearer) and
# `GET /v1/secret/data/bench/s` (X-Vault-Token), ROUNDS times each, per store.
#   bench/vault_ab.sh            (ROUNDS=3 SECS=5 by default; BENCH_BIN=… to use another build)
# Prints each run and the ratio vault/native of the summed request counts; issue 19's target
# is >= 0.9.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
LOG_TAG=vault-ab
ROUNDS=${ROUNDS:-3} SECS=${SECS:-5} THREADS=${THREADS:-2} CONNS=${CONNS:-16}
cd "$ROOT"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/scaivault-target}
TOKEN="skt_bench_$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
MASTER_KEY=$(head -c 32 /dev/urandom | base64)
need_tools wrk:wrk curl:curl psql:postgresql-client
if [[ -n ${BENCH_BIN:-} ]]; then
  BIN=$BENCH_BIN
else
  build_release --bin scaivault
  BIN="$TARGET_DIR/release/scaivault"
fi
bench_workdir vault-ab

reqs() { # url header -> requests completed in SECS
  wrk -t"$THREADS" -c"$CONNS" -d"${SECS}s" -H "$2" "$1" | awk '/requests in/ { print $1 }'
}

for store in sqlite postgres; do
  case $store in
    sqlite) url="sqlite://$WORK/ab/scaivault.db"; mkdir -p "$WORK/ab" ;;
    postgres)
      pg_reachable || { log "PostgreSQL not reachable: skipped"; continue; }
      db="scaivault_vault_ab_$$"; create_db "$db"; url="postgres://postgres@127.0.0.1:5432/$db" ;;
  esac
  start_scaivault "$WORK/run-$store" "$url" "$WORK/$store.log" SCAIVAULT_AUDIT_READS=true
  base="http://$HOST:$SERVER_PORT"
  curl -fsS -X PUT "$base/v1/secrets/bench/s" -H "Authorization: Bearer $TOKEN" \
    -d '{"data":{"client_id":"3MVG9-bench","client_secret":"0123456789abcdef0123456789abcdef"}}' >/dev/null
  native=0 vault=0
  for r in $(seq 1 "$ROUNDS"); do
    n=$(reqs "$base/v1/secrets/bench/s" "Authorization: Bearer $TOKEN")
    v=$(reqs "$base/v1/secret/data/bench/s" "X-Vault-Token: $TOKEN")
    log "$store round $r: native $n, vault $v requests in ${SECS}s"
    native=$((native + n)) vault=$((vault + v))
  done
  awk -v s="$store" -v n="$native" -v v="$vault" -v secs="$SECS" -v r="$ROUNDS" 'BEGIN {
    printf "%-8s native %8.1f req/s  vault %8.1f req/s  vault/native %.3f\n", s, n / (secs * r), v / (secs * r), v / n }'
  stop_pid "$SERVER_PID"
done
