#!/usr/bin/env bash
# PostgreSQL settings an operator might change, measured for scaivault's own load: on a
# throwaway cluster of this script's own (initdb on a free port under /var/tmp, never the
# machine's shared one), each variant is set with ALTER SYSTEM + reload and measured with a
# fresh database and server: audited GET (wrk -c16) and PUT (wrk -c16), each run starting
# right after a CHECKPOINT, so the full-page images that follow a checkpoint are counted.
# Variants are alternated with the defaults, round after round; the table gives each
# variant's throughput and WAL per request as a ratio to the defaults' in the same rounds.
# Usage: bench/pg_settings.sh [ROUNDS]     (default 2, about 1 minute per round once built)
#        PG_SETTINGS_VARIANTS="base wal_lz4" bench/pg_settings.sh   (some variants only)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
LOG_TAG=pg-settings
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
rounds=${1:-2} secs=${BENCH_SECONDS:-5}
VARIANTS=${PG_SETTINGS_VARIANTS:-base wal_lz4 commit_delay checkpoint_late}
need_tools wrk:wrk curl:curl psql:postgresql-client
PGBIN=${SCAIVAULT_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)}
[[ -x $PGBIN/initdb ]] || die "no initdb under /usr/lib/postgresql/*/bin (set SCAIVAULT_PG_BIN)"

# settings VARIANT -> the ALTER SYSTEM statements of a variant, one a line (the defaults are
# RESET first).
settings() {
  case $1 in
    base) ;;
    wal_lz4) echo "ALTER SYSTEM SET wal_compression = 'lz4'" ;;
    commit_delay) echo "ALTER SYSTEM SET commit_delay = 200"; echo "ALTER SYSTEM SET commit_siblings = 4" ;;
    # No checkpoint before the run: what rarer checkpoints (larger max_wal_size and
    # checkpoint_timeout) leave, against the base runs that start right after one.
    checkpoint_late) ;;
    *) die "unknown variant $1 (base wal_lz4 commit_delay checkpoint_late)" ;;
  esac
}

log "building the release binary"
build_release --bin scaivault
BIN="$TARGET_DIR/release/scaivault"
bench_workdir pg-settings
cluster=$(mktemp -d /var/tmp/scaivault-pg-settings.XXXXXX)
as_pg=()
if [[ $(id -u) == 0 ]]; then chown postgres:postgres "$cluster"; as_pg=(runuser -u postgres --); fi
port=$(free_port)
PG=(-h 127.0.0.1 -p "$port" -U postgres) # lib.sh's create_db and drop_db use it
stop_cluster() {
  "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$cluster/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$cluster"
}
trap 'bench_cleanup; stop_cluster' EXIT
"${as_pg[@]}" "$PGBIN/initdb" -D "$cluster/data" -U postgres --auth=trust -E UTF8 >/dev/null
"${as_pg[@]}" "$PGBIN/pg_ctl" -D "$cluster/data" -w -l "$cluster/server.log" \
  -o "-p $port -c listen_addresses=127.0.0.1 -k $cluster" start >/dev/null
log "throwaway cluster on port $port ($("$PGBIN/postgres" --version))"
sql() { psql "${PG[@]}" -qAt -v ON_ERROR_STOP=1 "$@"; }

TOKEN="skt_bench_$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
MASTER_KEY=$(head -c 32 /dev/urandom | base64)
AUTH="Authorization: Bearer $TOKEN"
JSON="Content-Type: application/json"
mkdir -p bench/results
out="bench/results/pg-settings-$(date -u +%Y%m%dT%H%MZ).log"

# wal -> "bytes fpi" of the cluster so far
wal() { sql -d postgres -F' ' -c "SELECT wal_bytes, wal_fpi FROM pg_stat_wal"; }

# measure VARIANT SCENARIO URL [wrk args]: one wrk run after a CHECKPOINT (but for
# checkpoint_late); prints "VARIANT SCENARIO req/s wal_bytes/req fpi/req p99"
measure() {
  local v=$1 sc=$2 url=$3 w1 w2 n rps p99
  shift 3
  wrk -t2 -c16 -d1s --timeout 5s "$@" "$url" >/dev/null 2>&1 || true
  [[ $v == checkpoint_late ]] || sql -d postgres -c "CHECKPOINT"
  w1=$(wal)
  wrk -t2 -c16 -d"${secs}s" --timeout 5s --latency "$@" "$url" >"$WORK/wrk" 2>&1 || true
  w2=$(wal)
  n=$(awk '/ requests in / { print $1 }' "$WORK/wrk")
  rps=$(awk '/^Requests\/sec:/ { print $2 }' "$WORK/wrk")
  p99=$(awk '/^[ \t]+99%/ { print $2 }' "$WORK/wrk")
  grep -q "Non-2xx" "$WORK/wrk" && log "WARNING $v/$sc: $(grep Non-2xx "$WORK/wrk")"
  awk -v v="$v" -v sc="$sc" -v rps="$rps" -v n="$n" -v a="$w1" -v b="$w2" -v p="$p99" 'BEGIN {
    split(a, x, " "); split(b, y, " ")
    printf "%-16s %-6s %9.1f %8.0f %8.3f %s\n", v, sc, rps, (y[1] - x[1]) / n, (y[2] - x[2]) / n, p }'
}

one_variant() {
  local v=$1 db="bench_$1" st
  sql -d postgres -c "ALTER SYSTEM RESET ALL"
  local stmt
  while read -r stmt; do
    [[ -z $stmt ]] || sql -d postgres -c "$stmt"
  done <<<"$(settings "$v")"
  sql -d postgres -c "SELECT pg_reload_conf()" >/dev/null
  create_db "$db"
  start_scaivault "$WORK/run-$v" "postgres://postgres@127.0.0.1:$port/$db" "$WORK/$v.log" \
    SCAIVAULT_AUDIT_READS=true
  local base="http://$HOST:$SERVER_PORT/v1/secrets"
  for p in bench/s bench/w0 bench/w1 bench/w2 bench/w3 bench/w4 bench/w5 bench/w6 bench/w7; do
    st=$(curl -sS -o /dev/null -w '%{http_code}' -X PUT "$base/$p" -H "$AUTH" -H "$JSON" \
      -d '{"data":{"client_id":"3MVG9-bench","client_secret":"0123456789abcdef"}}')
    [[ $st == 201 ]] || die "seed PUT $p -> $st"
  done
  measure "$v" get "$base/bench/s" -H "$AUTH"
  measure "$v" put "$base/bench/w0" -s "$ROOT/bench/lua/put.lua" -H "$AUTH" -H "$JSON"
  stop_pid "$SERVER_PID"
  drop_db "$db"
}

echo "# bench/pg_settings.sh $rounds rounds, $secs s runs: variant scenario req/s wal_B/req fpi/req p99" | tee "$out"
for r in $(seq 1 "$rounds"); do
  for v in $VARIANTS; do one_variant "$v" | tee -a "$out"; done
done
sql -d postgres -c "ALTER SYSTEM RESET ALL"
{
  echo "=== variant/base, summed over $rounds rounds: req/s, WAL per request, p99 from the rows above"
  awk '/^#|^===/ { next }
    { k = $1 " " $2; r[k] += $3; w[k] += $4; f[k] += $5; keys[k] = 1 }
    END { for (k in keys) { split(k, p, " "); b = "base " p[2]
      if (p[1] != "base" && r[b] > 0)
        printf "%-16s %-6s req/s %.3f  wal/req %.3f  fpi/req %.3f vs %.3f\n", p[1], p[2],
          r[k] / r[b], (w[b] > 0 ? w[k] / w[b] : 0), f[k] / rounds, f[b] / rounds } }' rounds="$rounds" "$out" | sort
} | tee -a "$out"
echo "log: $out"
