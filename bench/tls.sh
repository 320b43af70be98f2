#!/usr/bin/env bash
# What HTTPS costs: GET /v1/health (no database work) over plain HTTP and over HTTPS (rustls, a
# P-256 certificate), with keep-alive connections and with a new connection (TLS handshake) per
# request. Usage: bench/tls.sh   (BENCH_SECONDS=5 for a quicker run). Needs wrk, curl, openssl.
set -euo pipefail
cd "$(dirname "$0")/.."
LOG_TAG=tls-bench
# shellcheck source=bench/lib.sh
source bench/lib.sh
SECS=${BENCH_SECONDS:-10}
CONNS=16

need_tools wrk:wrk curl:curl openssl:openssl

log "building the release binary"
build_release --locked --bin scaivault
BIN="$TARGET_DIR/release/scaivault"

bench_workdir tls-bench
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost -keyout "$WORK/tls.key" -out "$WORK/tls.crt" 2>/dev/null
MASTER_KEY=$(openssl rand -base64 32)

declare -A URL
for scheme in http https; do
  # Each server on its own SQLite file, with a clean environment.
  extra=()
  [[ $scheme == https ]] && extra=(SCAIVAULT_TLS_CERT="$WORK/tls.crt" SCAIVAULT_TLS_KEY="$WORK/tls.key")
  for try in 1 2 3; do
    port=$(free_port)
    mkdir -p "$WORK/$scheme"
    (cd "$WORK/$scheme" && exec env -i SCAIVAULT_LISTEN="$HOST:$port" SCAIVAULT_MASTER_KEY="$MASTER_KEY" \
      SCAIVAULT_DATABASE_URL="sqlite://$WORK/$scheme.db" SCAIVAULT_LOG_FORMAT=json RUST_LOG=warn \
      "${extra[@]}" "$BIN" serve) >>"$WORK/$scheme.log" 2>&1 &
    PIDS+=($!)
    if wait_http "$scheme://$HOST:$port/v1/health" "$!" "$WORK/$scheme.log"; then
      URL[$scheme]="$scheme://$HOST:$port/v1/health"
      break
    fi
    log "port $port was taken (try $try)"
  done
  [[ -n ${URL[$scheme]:-} ]] || die "the $scheme server did not start"
done

printf '%-8s %-10s %10s %10s %10s\n' scheme conn rps p50 p99
for scheme in http https; do
  for mode in keepalive close; do
    hdr=()
    [[ $mode == close ]] && hdr=(-H "Connection: close")
    out=$(wrk -t 2 -c "$CONNS" -d "${SECS}s" --latency "${hdr[@]}" "${URL[$scheme]}")
    rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    printf '%-8s %-10s %10s %10s %10s\n' "$scheme" "$mode" "$rps" "$p50" "$p99"
  done
done
