#!/usr/bin/env bash
# What HTTPS costs: GET /v1/health (no database work) over plain HTTP and over HTTPS (rustls, a
# P-256 certificate), with keep-alive connections and with a new connection (TLS handshake) per
# request. Usage: bench/tls.sh   (BENCH_SECONDS=5 for a quicker run). Needs wrk, curl, openssl.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${BENCH_SECONDS:-10}
CONNS=16

log() { printf '[tls-bench] %s\n' "$*" >&2; }
for t in wrk curl openssl; do command -v "$t" >/dev/null || { log "needs $t"; exit 1; }; done

log "building the release binary"
cargo build --release --locked --bin scaivault
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
BIN="$TARGET_DIR/release/scaivault"

WORK=$(mktemp -d /tmp/scaivault-tls-bench.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost -keyout "$WORK/tls.key" -out "$WORK/tls.crt" 2>/dev/null
KEY=$(openssl rand -base64 32)

start() { # name port [tls]: starts a server on its own SQLite file
  local name=$1 port=$2 tls=${3:-}
  local env=(SCAIVAULT_LISTEN=127.0.0.1:$port SCAIVAULT_MASTER_KEY=$KEY
    SCAIVAULT_DATABASE_URL=sqlite://$WORK/$name.db SCAIVAULT_LOG_FORMAT=json RUST_LOG=warn)
  [[ -n $tls ]] && env+=(SCAIVAULT_TLS_CERT=$WORK/tls.crt SCAIVAULT_TLS_KEY=$WORK/tls.key)
  env -i "${env[@]}" "$BIN" serve >"$WORK/$name.out" 2>"$WORK/$name.log" &
  PIDS+=($!)
  local scheme=http; [[ -n $tls ]] && scheme=https
  for _ in $(seq 300); do
    curl -fsS -k --max-time 2 -o /dev/null "$scheme://127.0.0.1:$port/v1/health" 2>/dev/null && return 0
    sleep 0.2
  done
  log "$name did not start"; cat "$WORK/$name.log" >&2; exit 1
}

start http 18480
start https 18481 tls

printf '%-8s %-10s %10s %10s %10s\n' scheme conn rps p50 p99
for scheme in http https; do
  port=18480; [[ $scheme == https ]] && port=18481
  for mode in keepalive close; do
    hdr=(); [[ $mode == close ]] && hdr=(-H "Connection: close")
    out=$(wrk -t 2 -c "$CONNS" -d "${SECS}s" --latency "${hdr[@]}" "$scheme://127.0.0.1:$port/v1/health")
    rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    printf '%-8s %-10s %10s %10s %10s\n' "$scheme" "$mode" "$rps" "$p50" "$p99"
  done
done
