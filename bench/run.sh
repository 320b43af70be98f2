#!/usr/bin/env bash
# scaivault HTTP benchmark: bare axum ceiling, scaivault on SQLite and PostgreSQL, pgbench ceiling.
# Usage: bench/run.sh            (BENCH_SECONDS=5 bench/run.sh for a quicker run)
# See bench/README.md for what each row means.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)

SECS=${BENCH_SECONDS:-10}
WARMUP=${BENCH_WARMUP:-1}
THREADS=2
CONNS=16
STORES=${BENCH_STORES:-sqlite postgres}
PG="-h 127.0.0.1 -p 5432 -U postgres"
export PGCONNECT_TIMEOUT=5
HOST=127.0.0.1

log() { printf '[bench] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------- tools
need_apt=()
command -v wrk >/dev/null || need_apt+=(wrk)
command -v curl >/dev/null || need_apt+=(curl)
command -v psql >/dev/null || need_apt+=(postgresql-client)
if ((${#need_apt[@]})); then
  log "installing ${need_apt[*]} with apt-get"
  timeout 600 apt-get update -qq
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
if ! command -v pgbench >/dev/null; then
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq postgresql-contrib >/dev/null 2>&1 || true
fi

# ---------------------------------------------------------------- build
log "building release binaries"
cargo build --release --bin scaivault --example bare_axum
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
BIN="$TARGET_DIR/release/scaivault"
BARE="$TARGET_DIR/release/examples/bare_axum"
[[ -x $BIN && -x $BARE ]] || die "built binaries not found under $TARGET_DIR/release"

# ---------------------------------------------------------------- state and cleanup
TS=$(date -u +%Y%m%dT%H%M%SZ)
WORK=$(mktemp -d /tmp/scaivault-bench.XXXXXX)
RESULTS_DIR="$ROOT/bench/results"
mkdir -p "$RESULTS_DIR"
RAW="$RESULTS_DIR/$TS.log"      # raw wrk/pgbench output and server warnings, for digging
ROWS="$WORK/rows.tsv"           # scenario store rps p50 p99 requests non2xx sockerr note
: >"$ROWS"
: >"$RAW"
PIDS=()
DBS=()
CUR_DB=""   # the scaivault PostgreSQL database while its scenarios run

stop_pid() { # pid: TERM, wait up to 10 s, then KILL
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  log "pid $pid did not stop in 10 s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

drop_db() {
  timeout 30 psql $PG -d postgres -qAt -v ON_ERROR_STOP=1 \
    -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" >/dev/null 2>&1 ||
    log "could not drop database $1"
}

cleanup() {
  local pid db
  set +e
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  for db in "${DBS[@]}"; do drop_db "$db"; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- helpers
free_port() {
  local p i
  for ((i = 0; i < 100; i++)); do
    p=$((20000 + RANDOM % 30000))
    if ! (exec 3<>"/dev/tcp/$HOST/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  die "no free port found"
}

wait_http() { # url pid logfile: poll until 200, at most 60 s
  local url=$1 pid=$2 logf=$3 i
  for ((i = 0; i < 300; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "server exited during start; its log:"; cat "$logf" >&2 || true
      die "server did not start"
    fi
    curl -fsS --max-time 2 -o /dev/null "$url" 2>/dev/null && return 0
    sleep 0.2
  done
  cat "$logf" >&2 || true
  die "$url not ready after 60 s"
}

# wrk output -> "rps p50_ms p99_ms requests non2xx sockerr"
parse_wrk() {
  awk '
    function ms(v) {
      if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
      if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
      if (v ~ /m$/)  return substr(v, 1, length(v) - 1) * 60000
      if (v ~ /h$/)  return substr(v, 1, length(v) - 1) * 3600000
      if (v ~ /s$/)  return substr(v, 1, length(v) - 1) * 1000
      return v + 0
    }
    /^[ \t]+50%/ { p50 = ms($2) }
    /^[ \t]+99%/ { p99 = ms($2) }
    /^Requests\/sec:/ { rps = $2 }
    / requests in / { reqs = $1 }
    /Non-2xx or 3xx responses:/ { non2xx = $NF }
    /Socket errors:/ { gsub(/,/, ""); sockerr = $4 + $6 + $8 + $10 }
    END { printf "%.1f %.3f %.3f %d %d %d\n", rps, p50, p99, reqs, non2xx, sockerr }
  ' "$1"
}

# run_wrk scenario store url [wrk args...]: warm up, measure, record a row
run_wrk() {
  local scenario=$1 store=$2 url=$3 out="$WORK/wrk.out" parsed note="-"
  shift 3
  if ((WARMUP > 0)); then
    timeout $((WARMUP + 30)) wrk -t"$THREADS" -c"$CONNS" -d"${WARMUP}s" --timeout 5s "$@" "$url" >/dev/null 2>&1 || true
  fi
  log "$scenario/$store: wrk -t$THREADS -c$CONNS -d${SECS}s $url"
  timeout $((SECS + 60)) wrk -t"$THREADS" -c"$CONNS" -d"${SECS}s" --timeout 5s --latency "$@" "$url" >"$out" 2>&1 ||
    log "wrk exited non-zero for $scenario/$store"
  local args="$*"
  [[ -n ${TOKEN:-} ]] && args=${args//$TOKEN/<root token>}
  { echo "===== $scenario / $store: wrk $args $url (ended $(date -u +%H:%M:%S.%N | cut -c1-12) UTC)"; cat "$out"; } >>"$RAW"
  parsed=$(parse_wrk "$out")
  local statuses
  statuses=$(sed -n 's/^statuses: //p' "$out")
  read -r _ _ _ _ non2xx sockerr <<<"$parsed"
  if ((non2xx > 0)) && [[ -z $statuses ]]; then
    # Which statuses? A short extra run with a status-counting script (it slows wrk a little).
    statuses=$(timeout 60 wrk -t"$THREADS" -c"$CONNS" -d2s --timeout 5s -s "$ROOT/bench/lua/status.lua" "$@" "$url" 2>&1 |
      sed -n 's/^statuses: //p')
  fi
  if ((non2xx > 0 || sockerr > 0)); then
    note="non2xx=$non2xx sockerr=$sockerr${statuses:+ [$statuses]}"
    log "WARNING $scenario/$store: $note"
  fi
  if [[ -n $CUR_DB ]]; then
    # Server sessions left inside a transaction after wrk closed its connections (a handler
    # cancelled mid-transaction whose connection went back to the pool still in it).
    sleep 1
    local idle_tx
    idle_tx=$(timeout 15 psql $PG -d postgres -qAt -c "SELECT count(*) FROM pg_stat_activity
      WHERE datname = '$CUR_DB' AND state LIKE 'idle in transaction%'" 2>/dev/null || echo '?')
    if [[ $idle_tx != 0 ]]; then
      log "WARNING $scenario/$store: $idle_tx PostgreSQL session(s) idle in transaction after the run"
      { echo "===== $scenario / $store: sessions idle in transaction after the run";
        timeout 15 psql $PG -d postgres -c "SELECT pid, state, now() - xact_start AS xact_age,
          left(query, 200) AS last_query FROM pg_stat_activity
          WHERE datname = '$CUR_DB' AND state LIKE 'idle in transaction%'" 2>&1; } >>"$RAW" || true
      note="${note#-} idle_in_tx=$idle_tx"
      note=${note# }
    fi
  fi
  printf '%s\t%s\t%s\t%s\n' "$scenario" "$store" "$(tr ' ' '\t' <<<"$parsed")" "$note" >>"$ROWS"
}

# pgbench output dir -> "tps p50_ms p99_ms transactions failed"
run_pgbench() { # scenario db [pgbench args...]
  local scenario=$1 db=$2 out="$WORK/pgbench.out" logdir="$WORK/pglog.$1" tps n failed pct
  shift 2
  mkdir -p "$logdir"
  log "$scenario: pgbench -c$CONNS -j$THREADS -T$SECS $*"
  timeout $((SECS + 60)) pgbench $PG -n -M prepared -c"$CONNS" -j"$THREADS" -T"$SECS" \
    -l --log-prefix="$logdir/tx" "$@" "$db" >"$out" 2>&1 || log "pgbench exited non-zero for $scenario"
  { echo "===== $scenario: pgbench $*"; cat "$out"; } >>"$RAW"
  tps=$(awk '/^tps = / { print $3; exit }' "$out")
  failed=$(awk '/number of failed transactions:/ { print $5; exit }' "$out")
  # per-transaction log: column 3 is the transaction time in microseconds
  pct=$(cat "$logdir"/tx* 2>/dev/null | awk '{ print $3 }' | sort -n |
    awk '{ v[NR] = $1 } END {
      if (NR == 0) { print "0 0 0"; exit }
      i50 = int(NR * 0.50); if (i50 < 1) i50 = 1
      i99 = int(NR * 0.99); if (i99 < 1) i99 = 1
      printf "%.3f %.3f %d\n", v[i50] / 1000, v[i99] / 1000, NR }')
  read -r p50 p99 n <<<"$pct"
  local note="-"
  if [[ -n ${failed:-} && $failed != 0 ]]; then note="failed=$failed"; fi
  printf '%s\t%s\t%.1f\t%s\t%s\t%s\t0\t0\t%s\n' "$scenario" "postgres" "${tps:-0}" "$p50" "$p99" "$n" "$note" >>"$ROWS"
}

curl_status() { # method url [curl args...] -> prints HTTP status
  local m=$1 u=$2; shift 2
  curl -sS --max-time 10 -o "$WORK/curl.body" -w '%{http_code}' -X "$m" "$@" "$u"
}

# ---------------------------------------------------------------- bare axum ceiling
PORT=$(free_port)
"$BARE" "$HOST:$PORT" >"$WORK/bare.log" 2>&1 &
BARE_PID=$!
PIDS+=("$BARE_PID")
wait_http "http://$HOST:$PORT/v1/secrets/bench/s" "$BARE_PID" "$WORK/bare.log"
run_wrk get_bare axum "http://$HOST:$PORT/v1/secrets/bench/s"
stop_pid "$BARE_PID"

# ---------------------------------------------------------------- scaivault per store
TOKEN="skt_bench_$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
MASTER_KEY=$(head -c 32 /dev/urandom | base64)
AUTH="Authorization: Bearer $TOKEN"
JSON="Content-Type: application/json"

pg_ok=true
if ! timeout 15 psql $PG -d postgres -qAt -c 'select 1' >/dev/null 2>&1; then
  log "PostgreSQL on 127.0.0.1:5432 is not reachable; skipping PostgreSQL rows"
  pg_ok=false
fi

start_server() { # store url port audit_reads logfile; sets SERVER_PID
  local store=$1 url=$2 port=$3 audit=$4 logf=$5
  # Run from an empty folder so no config/scaivault.toml is picked up.
  (cd "$WORK/run-$store" && exec env -u DATABASE_URL \
    SCAIVAULT_LISTEN="$HOST:$port" SCAIVAULT_DATABASE_URL="$url" \
    SCAIVAULT_DATA_DIR="$WORK/run-$store/data" SCAIVAULT_MASTER_KEY="$MASTER_KEY" \
    SCAIVAULT_ROOT_TOKEN="$TOKEN" SCAIVAULT_LOG_FORMAT=json SCAIVAULT_AUDIT_READS="$audit" \
    RUST_LOG=warn,scaivault::server=info \
    "$BIN" serve) >>"$logf" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  wait_http "http://$HOST:$port/v1/health/ready" "$SERVER_PID" "$logf"
}

bench_store() { # store
  local store=$1 url port pid logf="$WORK/$1.server.log" st i db=""
  case $store in
    sqlite) url="sqlite://$WORK/sqlite/scaivault.db"; mkdir -p "$WORK/sqlite" ;;
    postgres)
      $pg_ok || return 0
      db="scaivault_bench_$$_store"
      DBS+=("$db")
      timeout 30 psql $PG -d postgres -qAt -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$db\"" >/dev/null
      url="postgres://postgres@127.0.0.1:5432/$db" ;;
    *) die "unknown store $store" ;;
  esac
  port=$(free_port)
  mkdir -p "$WORK/run-$store"
  start_server "$store" "$url" "$port" true "$logf"
  pid=$SERVER_PID
  log "$store: scaivault ready on $port; seeding"

  local base="http://$HOST:$port/v1/secrets"
  local seeds=(bench/s bench/s)
  for i in $(seq -w 0 59); do seeds+=("bench/l$i"); done
  for i in $(seq 0 7); do seeds+=("bench/w$i"); done
  for p in "${seeds[@]}"; do
    st=$(curl_status PUT "$base/$p" -H "$AUTH" -H "$JSON" \
      -d '{"data":{"client_id":"3MVG9-bench","client_secret":"0123456789abcdef0123456789abcdef"}}')
    [[ $st == 200 || $st == 201 ]] || { cat "$WORK/curl.body" >&2; die "seed PUT $p -> $st"; }
  done
  for u in "$base/bench/s" "$base/bench/s?version=1" "$base?prefix=bench/&limit=50"; do
    st=$(curl_status GET "$u" -H "$AUTH")
    [[ $st == 200 ]] || { cat "$WORK/curl.body" >&2; die "check GET $u -> $st"; }
  done

  CUR_DB=$db
  run_wrk get_current "$store" "$base/bench/s" -H "$AUTH"
  run_wrk get_version "$store" "$base/bench/s?version=1" -H "$AUTH"
  run_wrk list "$store" "$base?prefix=bench/&limit=50" -H "$AUTH"
  run_wrk put "$store" "$base/bench/w0" -s "$ROOT/bench/lua/put.lua" -H "$AUTH" -H "$JSON"

  if ! kill -0 "$pid" 2>/dev/null; then log "scaivault ($store) died during the run"; fi
  stop_pid "$pid"
  batch=$(grep -o '"audit.mean_batch_rows":[0-9.]*' "$logf" | tail -n1 | cut -d: -f2 || true)
  [[ -n $batch ]] && log "$store: audit group commit wrote $(printf '%.1f' "$batch") rows per batch on average"
  # The same server with read auditing off: what durable auditing costs.
  local port2 logf2="$WORK/$store.noaudit.log"
  port2=$(free_port)
  start_server "$store" "$url" "$port2" false "$logf2"
  run_wrk get_noaudit "$store" "http://$HOST:$port2/v1/secrets/bench/s" -H "$AUTH"
  stop_pid "$SERVER_PID"
  cat "$logf2" >>"$logf"
  CUR_DB=""
  if [[ -s $logf ]]; then
    { echo "===== scaivault $store server log (RUST_LOG=warn)"; cat "$logf"; } >>"$RAW"
    log "$store: server logged $(wc -l <"$logf") line(s) at warn+ (see $RAW); first ones:"
    head -n 5 "$logf" | cut -c1-400 >&2
  fi
  [[ -n $db ]] && drop_db "$db"
  return 0
}

for s in $STORES; do bench_store "$s"; done

# ---------------------------------------------------------------- PostgreSQL ceiling
if $pg_ok && command -v pgbench >/dev/null; then
  db="scaivault_bench_$$_pgbench"
  DBS+=("$db")
  timeout 30 psql $PG -d postgres -qAt -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$db\"" >/dev/null
  timeout 120 pgbench $PG -i -q -s 1 "$db" >>"$RAW" 2>&1
  timeout 30 psql $PG -d "$db" -qAt -v ON_ERROR_STOP=1 -c \
    "CREATE TABLE bench_ins (id bigserial PRIMARY KEY, k bigint NOT NULL, v text NOT NULL,
       created_at timestamptz NOT NULL DEFAULT now())" >/dev/null
  cat >"$WORK/insert.sql" <<'SQL'
\set r random(1, 1000000000)
INSERT INTO bench_ins (k, v) VALUES (:r, '{"client_id":"3MVG9-bench","client_secret":"0123456789abcdef0123456789abcdef"}');
SQL
  run_pgbench pgbench_select "$db" -S
  run_pgbench pgbench_insert "$db" -f "$WORK/insert.sql"
  drop_db "$db"
else
  $pg_ok && log "pgbench not found; skipping the PostgreSQL ceiling"
fi

# ---------------------------------------------------------------- report
COMMIT=$(git rev-parse HEAD 2>/dev/null || echo unknown)
DIRTY=false
[[ -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]] && DIRTY=true
NPROC=$(nproc)
OUT="$RESULTS_DIR/$TS.json"

# Adds the ratio column: GET-type rows vs get_bare req/s, put vs pgbench_insert tps.
awk -F'\t' -v OFS='\t' '
  { row[NR] = $0; sc[NR] = $1; st[NR] = $2; rps[NR] = $3
    if ($1 == "get_bare") bare = $3
    if ($1 == "pgbench_insert") ins = $3 }
  END {
    for (i = 1; i <= NR; i++) {
      r = "-"; vs = "-"
      if (sc[i] ~ /^(get_|list)/ && bare > 0) { r = sprintf("%.3f", rps[i] / bare); vs = "get_bare" }
      if (sc[i] == "put" && ins > 0) { r = sprintf("%.3f", rps[i] / ins); vs = "pgbench_insert" }
      print row[i], r, vs
    }
  }' "$ROWS" >"$WORK/final.tsv"

echo
printf '%-15s %-9s %10s %9s %9s %7s  %s\n' scenario store "req/s" "p50 ms" "p99 ms" ratio note
printf '%-15s %-9s %10s %9s %9s %7s  %s\n' --------------- --------- ---------- --------- --------- ------- ----
while IFS=$'\t' read -r sc st rps p50 p99 reqs non2xx sockerr note ratio vs; do
  [[ $note == - ]] && note=""
  printf '%-15s %-9s %10.1f %9.3f %9.3f %7s  %s\n' "$sc" "$st" "$rps" "$p50" "$p99" "$ratio" "$note"
done <"$WORK/final.tsv"
echo
echo "ratio: get_*/list vs get_bare req/s; put vs pgbench_insert tps.  nproc=$NPROC  commit=${COMMIT:0:12}$($DIRTY && echo ' (dirty tree)')"

json_str() { printf '"%s"' "$(sed 's/\\/\\\\/g; s/"/\\"/g' <<<"$1")"; }
{
  printf '{\n  "timestamp": "%s",\n  "git_commit": "%s",\n  "git_dirty": %s,\n  "nproc": %s,\n' \
    "$TS" "$COMMIT" "$DIRTY" "$NPROC"
  printf '  "bench_seconds": %s,\n  "wrk": {"threads": %s, "connections": %s},\n  "results": [\n' \
    "$SECS" "$THREADS" "$CONNS"
  first=true
  while IFS=$'\t' read -r sc st rps p50 p99 reqs non2xx sockerr note ratio vs; do
    $first || printf ',\n'
    first=false
    [[ $note == - ]] && note=""
    [[ $ratio == - ]] && ratio=null
    [[ $vs == - ]] && vs=null || vs="\"$vs\""
    printf '    {"scenario": "%s", "store": "%s", "req_per_s": %s, "p50_ms": %s, "p99_ms": %s, "requests": %s, "non_2xx": %s, "socket_errors": %s, "ratio": %s, "ratio_vs": %s, "note": %s}' \
      "$sc" "$st" "$rps" "$p50" "$p99" "$reqs" "$non2xx" "$sockerr" "$ratio" "$vs" "$(json_str "$note")"
  done <"$WORK/final.tsv"
  printf '\n  ]\n}\n'
} >"$OUT"
echo "wrote $OUT (raw output: $RAW)"
