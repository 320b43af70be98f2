#!/usr/bin/env bash
# Webhook deliveries per second of the real `scaivault serve`, to a local signature-verifying
# sink (examples/webhook_sink.rs), on SQLite and PostgreSQL. Target: >= 2,000 deliveries/s.
# Usage: bench/deliveries.sh      (BENCH_DELIVERIES=5000 bench/deliveries.sh for a quicker run)
# See bench/README.md, "Webhook deliveries per second".
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)

K=${BENCH_DELIVERIES:-20000}      # deliveries to make
FANOUT=${BENCH_FANOUT:-10}        # webhooks for "*" to the sink: deliveries per event
PAR=${BENCH_WRITERS:-16}          # concurrent PUTs while creating the events
WAIT=${BENCH_TIMEOUT:-300}        # most seconds to wait for the deliveries, per store
STALL=${BENCH_STALL:-30}          # give up after this many seconds without a new delivery
STORES=${BENCH_STORES:-sqlite postgres}
PERF=${BENCH_PERF:-0}             # 1: perf record the server while it delivers
TARGET=2000
PG="-h 127.0.0.1 -p 5432 -U postgres"
export PGCONNECT_TIMEOUT=5
HOST=127.0.0.1
SINK_SECRET="whsec_bench_$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"

log() { printf '[deliveries] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

((K > 0 && FANOUT > 0 && PAR > 0)) || die "BENCH_DELIVERIES, BENCH_FANOUT and BENCH_WRITERS must be positive"
EVENTS=$(((K + FANOUT - 1) / FANOUT))
K=$((EVENTS * FANOUT))

# ---------------------------------------------------------------- tools
need_apt=()
command -v curl >/dev/null || need_apt+=(curl)
command -v psql >/dev/null || need_apt+=(postgresql-client)
if ((${#need_apt[@]})); then
  log "installing ${need_apt[*]} with apt-get"
  timeout 600 apt-get update -qq
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
curl --help all 2>/dev/null | grep -q -- '--parallel-max' || die "curl 7.66 or later is needed (--parallel)"
if [[ $PERF == 1 ]] && ! command -v perf >/dev/null; then die "BENCH_PERF=1 needs perf"; fi

# ---------------------------------------------------------------- build
log "building release binaries"
cargo build --release --bin scaivault --example webhook_sink
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
BIN="$TARGET_DIR/release/scaivault"
SINK="$TARGET_DIR/release/examples/webhook_sink"
[[ -x $BIN && -x $SINK ]] || die "built binaries not found under $TARGET_DIR/release"

# ---------------------------------------------------------------- state and cleanup
TS=$(date -u +%Y%m%dT%H%M%SZ)
WORK=$(mktemp -d /tmp/scaivault-deliveries.XXXXXX)
RESULTS_DIR="$ROOT/bench/results"
mkdir -p "$RESULTS_DIR"
RAW="$RESULTS_DIR/$TS-deliveries.log"   # server warnings, perf reports
ROWS="$WORK/rows.tsv"    # scenario store per_s p50 p99 deliveries non2xx sockerr note
: >"$ROWS"
: >"$RAW"
PIDS=()
DBS=()

stop_pid() { # pid [signal]: signal (TERM), wait up to 10 s, then KILL
  local pid=$1 sig=${2:-TERM} i
  kill -0 "$pid" 2>/dev/null || return 0
  kill "-$sig" "$pid" 2>/dev/null || true
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
free_port() { # below the ephemeral range, so no outgoing connection can be holding it
  local p i lo hi=50000
  read -r lo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || lo=32768
  ((lo > 21000)) && hi=$lo
  for ((i = 0; i < 100; i++)); do
    p=$((20000 + RANDOM % (hi - 20000)))
    if ! (exec 3<>"/dev/tcp/$HOST/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  die "no free port found"
}

wait_http() { # url pid logfile: poll until 200, at most 60 s
  local url=$1 pid=$2 logf=$3 i
  for ((i = 0; i < 300; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "process exited during start; its log:"; cat "$logf" >&2 || true
      die "$url did not start"
    fi
    curl -fsS --max-time 2 -o /dev/null "$url" 2>/dev/null && return 0
    sleep 0.2
  done
  cat "$logf" >&2 || true
  die "$url not ready after 60 s"
}

now_us() { date +%s%6N; }

# CPU accounting, to tell a CPU-bound run from a waiting one. cpu_snap PID PID -> one line:
# "machine_busy_ticks machine_total_ticks pid1_ticks pid2_ticks" (utime + stime, in CLK_TCK).
TICK=$(getconf CLK_TCK)
cpu_snap() {
  local p line=""
  line=$(awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t; exit }' /proc/stat)
  for p in "$@"; do
    line+=" $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)"
  done
  echo "$line"
}
# Per-thread CPU ticks of PID: "tid comm ticks" lines.
thread_snap() {
  local t
  for t in /proc/"$1"/task/*; do
    printf '%s %s %s\n' "${t##*/}" "$(tr ' ' '_' <"$t/comm" 2>/dev/null || echo '?')" \
      "$(sed 's/.*) //' "$t/stat" 2>/dev/null | awk '{ print $12 + $13 }' || echo 0)"
  done
}
# The busiest thread between two thread_snap files over SECONDS: "comm:NN%".
top_thread() {
  awk -v secs="$3" -v tick="$TICK" 'NR == FNR { a[$1] = $3; next }
    { d = $3 - a[$1]; if (d > best) { best = d; name = $2 } }
    END { printf "%s:%.0f%%\n", name, (secs > 0) ? 100 * best / tick / secs : 0 }' "$1" "$2"
}
# Summed CPU ticks of some processes (e.g. the PostgreSQL backends serving our database).
pids_ticks() {
  local p s=0 v
  for p in "$@"; do
    v=$(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)
    s=$((s + v))
  done
  echo "$s"
}
# cpu_delta "snap1" "snap2" -> "busy% server_cpu_s sink_cpu_s" (2 cores = 200%)
cpu_delta() {
  awk -v a="$1" -v b="$2" -v tick="$TICK" -v ncpu="$(nproc)" 'BEGIN {
    split(a, x, " "); split(b, y, " ")
    tot = y[2] - x[2]; busy = (tot > 0) ? 100 * ncpu * (y[1] - x[1]) / tot : 0
    printf "%.0f %.2f %.2f\n", busy, (y[3] - x[3]) / tick, (y[4] - x[4]) / tick }'
}

# /count JSON -> "ok bad distinct first_us last_us p50_ms p99_ms" (null -> 0)
sink_count() {
  local body
  body=$(curl -fsS --max-time 5 "http://$HOST:$SINK_PORT/count" 2>/dev/null) || body='{}'
  sed 's/null/0/g' <<<"$body" | awk -v RS=',' -F':' '
    { gsub(/[{}" \n]/, ""); v[$1] = $2 }
    END { printf "%d %d %d %.0f %.0f %.3f %.3f\n", v["ok"], v["bad"], v["distinct"],
          v["first_us"], v["last_us"], v["p50_ms"], v["p99_ms"] }'
}

TOKEN="skt_bench_$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
MASTER_KEY=$(head -c 32 /dev/urandom | base64)

pg_ok=true
if ! timeout 15 psql $PG -d postgres -qAt -c 'select 1' >/dev/null 2>&1; then
  log "PostgreSQL on 127.0.0.1:5432 is not reachable; skipping PostgreSQL"
  pg_ok=false
fi

bench_store() { # store
  local store=$1 url db="" port logf="$WORK/$1.server.log" sinklog="$WORK/$1.sink.log" i st
  case $store in
    sqlite) mkdir -p "$WORK/sqlite"; url="sqlite://$WORK/sqlite/scaivault.db" ;;
    postgres)
      $pg_ok || return 0
      db="scaivault_bench_$$_deliveries"
      DBS+=("$db")
      timeout 30 psql $PG -d postgres -qAt -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$db\"" >/dev/null
      url="postgres://postgres@127.0.0.1:5432/$db" ;;
    *) die "unknown store $store" ;;
  esac

  # The sink binds any free port and says which.
  "$SINK" 0 "$SINK_SECRET" >"$sinklog" 2>&1 &
  local sink_pid=$!
  PIDS+=("$sink_pid")
  SINK_PORT=""
  for ((i = 0; i < 100; i++)); do
    SINK_PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$sinklog")
    [[ -n $SINK_PORT ]] && break
    kill -0 "$sink_pid" 2>/dev/null || { cat "$sinklog" >&2; die "the sink did not start"; }
    sleep 0.1
  done
  [[ -n $SINK_PORT ]] || die "the sink did not report its port"
  wait_http "http://$HOST:$SINK_PORT/count" "$sink_pid" "$sinklog"

  mkdir -p "$WORK/run-$store"
  local pid="" try
  for try in 1 2 3; do
    port=$(free_port)
    # From an empty folder, so no config/scaivault.toml is read.
    (cd "$WORK/run-$store" && exec env -u DATABASE_URL \
      SCAIVAULT_LISTEN="$HOST:$port" SCAIVAULT_DATABASE_URL="$url" \
      SCAIVAULT_DATA_DIR="$WORK/run-$store/data" SCAIVAULT_MASTER_KEY="$MASTER_KEY" \
      SCAIVAULT_ROOT_TOKEN="$TOKEN" SCAIVAULT_WEBHOOK_ALLOW_HTTP=true \
      SCAIVAULT_LOG_FORMAT=json RUST_LOG=warn \
      "$BIN" serve) >>"$logf" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    for ((i = 0; i < 300; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      curl -fsS --max-time 2 -o /dev/null "http://$HOST:$port/v1/health/ready" 2>/dev/null && break 2
      sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then cat "$logf" >&2; die "scaivault not ready after 60 s"; fi
    wait "$pid" 2>/dev/null || true
    grep -qi 'address already in use' "$logf" || { cat "$logf" >&2; die "scaivault did not start"; }
    log "$store: port $port was taken; trying another"
    : >"$logf"
    pid=""
  done
  [[ -n $pid ]] || die "scaivault did not start (ports taken)"
  local api="http://$HOST:$port/v1"

  for ((i = 0; i < FANOUT; i++)); do
    st=$(curl -sS --max-time 10 -o "$WORK/curl.body" -w '%{http_code}' -X POST "$api/webhooks" \
      -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
      -d "{\"name\":\"sink-$i\",\"url\":\"http://$HOST:$SINK_PORT/hook\",\"secret\":\"$SINK_SECRET\",\"events\":[\"*\"]}")
    [[ $st == 201 ]] || { cat "$WORK/curl.body" >&2; die "webhook registration -> $st"; }
  done

  # One curl config with EVENTS PUTs to new paths (each one secret.created event, FANOUT
  # deliveries), sent PAR at a time over keep-alive connections.
  local cfg="$WORK/puts.curl"
  : >"$cfg"
  chmod 600 "$cfg"
  for ((i = 0; i < EVENTS; i++)); do
    ((i == 0)) || echo next >>"$cfg"
    printf 'url = "%s/secrets/dbench/s%06d"\nrequest = "PUT"\nheader = "Authorization: Bearer %s"\nheader = "Content-Type: application/json"\ndata = "{\\"data\\":{\\"client_secret\\":\\"%032d\\"}}"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n' \
      "$api" "$i" "$TOKEN" "$i" >>"$cfg"
  done

  local perf_pid=""
  if [[ $PERF == 1 ]]; then
    perf record -F 499 -g -p "$pid" -o "$WORK/$store.perf.data" >/dev/null 2>&1 &
    perf_pid=$!
    PIDS+=("$perf_pid")
  fi

  log "$store: $EVENTS PUTs ($PAR at a time) x $FANOUT webhooks = $K deliveries"
  local w0 w1 cpu0 cpu1 cpu2
  cpu0=$(cpu_snap "$pid" "$sink_pid")
  w0=$(now_us)
  timeout $((WAIT + 60)) curl -sS --parallel --parallel-max "$PAR" --max-time 30 -K "$cfg" \
    >"$WORK/puts.status" 2>"$WORK/puts.err" || log "$store: curl reported errors: $(head -c 300 "$WORK/puts.err")"
  w1=$(now_us)
  cpu1=$(cpu_snap "$pid" "$sink_pid")
  thread_snap "$pid" >"$WORK/threads1"
  local pg_pids=() pg1=0 pg2=0
  if [[ -n $db ]]; then
    mapfile -t pg_pids < <(timeout 15 psql $PG -d postgres -qAt \
      -c "SELECT pid FROM pg_stat_activity WHERE datname = '$db'" 2>/dev/null || true)
    pg1=$(pids_ticks "${pg_pids[@]}")
  fi
  local at_w1 puts_ok puts_bad
  at_w1=$(sink_count)
  puts_ok=$(grep -c '^20[01]$' "$WORK/puts.status" || true)
  puts_bad=$((EVENTS - puts_ok))
  ((puts_bad == 0)) || log "WARNING $store: $puts_bad PUT(s) did not answer 200/201: $(sort "$WORK/puts.status" | uniq -c | tr '\n' ' ')"
  local want=$((puts_ok * FANOUT))
  log "$store: PUTs done in $(awk -v a="$w0" -v b="$w1" 'BEGIN { printf "%.2f", (b - a) / 1e6 }') s; sink had $(cut -d' ' -f1 <<<"$at_w1") deliveries then; waiting for $want"

  # Wait for every delivery: bounded by WAIT, and by STALL seconds without progress.
  # The rates come from the sink's own timestamps, so a coarse poll (few processes spawned on
  # the 2 cores being measured) loses no precision.
  local c ok bad distinct first last p50 p99 prev=-1 last_change deadline
  last_change=$SECONDS
  deadline=$((SECONDS + WAIT))
  while :; do
    c=$(sink_count)
    read -r ok bad distinct first last p50 p99 <<<"$c"
    ((distinct >= want)) && break
    if ((distinct != prev)); then prev=$distinct; last_change=$SECONDS; fi
    if ((SECONDS - last_change >= STALL)); then
      log "WARNING $store: no new delivery for $STALL s; stopping at $distinct of $want"; break
    fi
    if ((SECONDS >= deadline)); then
      log "WARNING $store: $WAIT s passed; stopping at $distinct of $want"; break
    fi
    sleep 0.5
  done
  cpu2=$(cpu_snap "$pid" "$sink_pid")
  thread_snap "$pid" >"$WORK/threads2"
  [[ -n $db ]] && pg2=$(pids_ticks "${pg_pids[@]}")
  local w2
  w2=$(now_us)
  if [[ -n $perf_pid ]]; then
    stop_pid "$perf_pid" INT
    { echo "===== $store: perf report (server, while writing and delivering)"
      timeout 300 perf report -i "$WORK/$store.perf.data" --no-children --stdio \
        --percent-limit 0.7 --sort dso,sym -g none 2>/dev/null | grep -v '^$' | head -n 80
    } >>"$RAW" || true
    log "$store: perf profile summary written to $RAW"
  fi

  # deliveries/s over the first-to-last span; and over the drain after the last PUT answered
  # (from then on only the worker works), when at least 10% of the deliveries were left.
  local at_w1_n span rate drain_n drain_rate note
  at_w1_n=$(cut -d' ' -f1,2 <<<"$at_w1" | awk '{ print $1 + $2 }')
  span=$(awk -v a="$first" -v b="$last" 'BEGIN { printf "%.6f", (b - a) / 1e6 }')
  rate=$(awk -v n="$((ok + bad))" -v s="$span" 'BEGIN { printf "%.1f", (s > 0) ? (n - 1) / s : 0 }')
  drain_n=$((ok + bad - at_w1_n))
  drain_rate=$(awk -v n="$drain_n" -v a="$w1" -v b="$last" -v k="$want" \
    'BEGIN { printf "%.1f", (n >= k / 10 && b > a) ? n / ((b - a) / 1e6) : 0 }')
  local put_rate
  put_rate=$(awk -v n="$puts_ok" -v a="$w0" -v b="$w1" 'BEGIN { printf "%.1f", n / ((b - a) / 1e6) }')
  local busy scpu kcpu dbusy dscpu dkcpu
  read -r busy scpu kcpu <<<"$(cpu_delta "$cpu0" "$cpu2")"
  read -r dbusy dscpu dkcpu <<<"$(cpu_delta "$cpu1" "$cpu2")"
  local dsecs top pgcpu=""
  dsecs=$(awk -v a="$w1" -v b="$w2" 'BEGIN { printf "%.3f", (b - a) / 1e6 }')
  top=$(top_thread "$WORK/threads1" "$WORK/threads2" "$dsecs")
  [[ -n $db ]] && pgcpu=" pg_backends_cpu=$(awk -v t="$((pg2 - pg1))" -v k="$TICK" 'BEGIN { printf "%.2f", t / k }')s"
  note="events=$puts_ok fanout=$FANOUT span=${span}s puts/s=$put_rate cpu=${busy}% server_cpu=${scpu}s sink_cpu=${kcpu}s"
  ((bad > 0)) && note+=" bad_signature=$bad"
  ((ok + bad > distinct)) && note+=" duplicates=$((ok + bad - distinct))"
  ((distinct < want)) && note+=" missing=$((want - distinct))"
  ((puts_bad > 0)) && note+=" failed_puts=$puts_bad"
  log "$store: $((ok + bad)) deliveries ($bad bad) in ${span} s: $rate/s; after the writes: $drain_rate/s"
  printf 'deliveries\t%s\t%s\t%s\t%s\t%s\t0\t0\t%s\n' "$store" "$rate" "$p50" "$p99" "$((ok + bad))" "$note" >>"$ROWS"
  printf 'deliveries_drain\t%s\t%s\t-\t-\t%s\t0\t0\t%s\n' "$store" "$drain_rate" "$drain_n" \
    "after the last PUT answered ($((ok + bad - drain_n)) delivered before) cpu=${dbusy}% server_cpu=${dscpu}s sink_cpu=${dkcpu}s$pgcpu busiest_thread=$top" >>"$ROWS"

  kill -0 "$pid" 2>/dev/null || log "scaivault ($store) died during the run"
  stop_pid "$pid"
  stop_pid "$sink_pid"
  if [[ -s $logf ]]; then
    { echo "===== scaivault $store server log (RUST_LOG=warn)"; cat "$logf"; } >>"$RAW"
    log "$store: server logged $(wc -l <"$logf") line(s) at warn+ (see $RAW); first ones:"
    head -n 5 "$logf" | cut -c1-400 >&2
  fi
  [[ -n $db ]] && drop_db "$db"
  return 0
}

for s in $STORES; do bench_store "$s"; done

# ---------------------------------------------------------------- report (bench/run.sh format)
COMMIT=$(git rev-parse HEAD 2>/dev/null || echo unknown)
DIRTY=false
[[ -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]] && DIRTY=true
NPROC=$(nproc)
OUT="$RESULTS_DIR/$TS-deliveries.json"

echo
printf '%-16s %-9s %10s %9s %9s %7s  %s\n' scenario store "deliv/s" "p50 ms" "p99 ms" ratio note
printf '%-16s %-9s %10s %9s %9s %7s  %s\n' ---------------- --------- ---------- --------- --------- ------- ----
while IFS=$'\t' read -r sc st rps p50 p99 n non2xx sockerr note; do
  ratio=$(awk -v r="$rps" -v t="$TARGET" 'BEGIN { printf "%.3f", r / t }')
  printf '%-16s %-9s %10.1f %9s %9s %7s  %s\n' "$sc" "$st" "$rps" "$p50" "$p99" "$ratio" "$note"
done <"$ROWS"
echo
echo "deliv/s: deliveries received by the sink per second; p50/p99: event time to receipt.  ratio: vs the $TARGET/s target."
echo "cpu: whole machine, $(nproc) cores = $(($(nproc) * 100))%; server_cpu/sink_cpu/pg_backends_cpu: CPU seconds of scaivault /"
echo "the sink / scaivault's PostgreSQL sessions in that window; busiest_thread: scaivault's busiest thread, % of one core."
echo "nproc=$NPROC  commit=${COMMIT:0:12}$($DIRTY && echo ' (dirty tree)')"

json_str() { printf '"%s"' "$(sed 's/\\/\\\\/g; s/"/\\"/g' <<<"$1")"; }
{
  printf '{\n  "timestamp": "%s",\n  "git_commit": "%s",\n  "git_dirty": %s,\n  "nproc": %s,\n' \
    "$TS" "$COMMIT" "$DIRTY" "$NPROC"
  printf '  "bench_seconds": null,\n  "wrk": null,\n'
  printf '  "deliveries": {"events": %s, "fanout": %s, "writers": %s, "target_per_s": %s},\n  "results": [\n' \
    "$EVENTS" "$FANOUT" "$PAR" "$TARGET"
  first=true
  while IFS=$'\t' read -r sc st rps p50 p99 n non2xx sockerr note; do
    $first || printf ',\n'
    first=false
    [[ $p50 == - ]] && p50=null
    [[ $p99 == - ]] && p99=null
    ratio=$(awk -v r="$rps" -v t="$TARGET" 'BEGIN { printf "%.3f", r / t }')
    printf '    {"scenario": "%s", "store": "%s", "req_per_s": %s, "p50_ms": %s, "p99_ms": %s, "requests": %s, "non_2xx": %s, "socket_errors": %s, "ratio": %s, "ratio_vs": "target_%s", "note": %s}' \
      "$sc" "$st" "$rps" "$p50" "$p99" "$n" "$non2xx" "$sockerr" "$ratio" "$TARGET" "$(json_str "$note")"
  done <"$ROWS"
  printf '\n  ]\n}\n'
} >"$OUT"
if [[ -s $RAW ]]; then
  echo "wrote $OUT (server log and profiles: $RAW)"
else
  rm -f "$RAW"
  echo "wrote $OUT (the server logged nothing at warn or above)"
fi
