# shellcheck shell=bash disable=SC2034
# (SC2034: the variables set here are used by the scripts that source this file.)
# Shared set-up for the bench scripts (sourced by bench/run.sh and bench/tls.sh; not run alone).
# Before sourcing, a script may set LOG_TAG (the prefix of its log lines).
#
# Provides: log, die, need_tools, build_release (sets TARGET_DIR), bench_workdir (WORK, PIDS,
# DBS and an EXIT trap that stops PIDS, drops DBS and removes WORK), stop_pid, free_port,
# wait_http, pg_reachable, create_db, drop_db, start_scaivault (SERVER_PID, SERVER_PORT),
# json_str, and CPU accounting (cpu_snap, cpu_delta, thread_snap, top_thread, pids_ticks).

HOST=127.0.0.1
# psql/pgbench connection options.
PG=(-h 127.0.0.1 -p 5432 -U postgres)
export PGCONNECT_TIMEOUT=5
LOG_TAG=${LOG_TAG:-bench}

log() { printf '[%s] %s\n' "$LOG_TAG" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# need_tools CMD:DEBIAN_PACKAGE ...: installs the packages of missing commands with apt-get.
need_tools() {
  local spec cmd pkgs=()
  for spec in "$@"; do
    cmd=${spec%%:*}
    command -v "$cmd" >/dev/null || pkgs+=("${spec#*:}")
  done
  ((${#pkgs[@]})) || return 0
  log "installing ${pkgs[*]} with apt-get"
  timeout 600 apt-get update -qq
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq "${pkgs[@]}" >/dev/null
}

# build_release CARGO_BUILD_ARGS...: cargo build --release, then TARGET_DIR (cargo's target
# folder, CARGO_TARGET_DIR honoured).
build_release() {
  cargo build --release "$@"
  TARGET_DIR=$(cargo metadata --format-version 1 --no-deps |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
  [[ -n $TARGET_DIR ]] || die "could not find cargo's target directory"
}

# bench_workdir NAME: a temporary WORK folder; on exit the processes in PIDS are stopped, the
# PostgreSQL databases in DBS dropped and WORK removed.
bench_workdir() {
  WORK=$(mktemp -d "/tmp/scaivault-$1.XXXXXX")
  PIDS=()
  DBS=()
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

bench_cleanup() {
  local pid db
  set +e
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  for db in "${DBS[@]}"; do drop_db "$db"; done
  rm -rf "$WORK"
}

# stop_pid PID [SIGNAL]: SIGNAL (TERM), wait up to 10 s, then KILL.
stop_pid() {
  local pid=$1 sig=${2:-TERM} i
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill "-$sig" "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  log "pid $pid did not stop in 10 s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# free_port: a port nobody listens on, below the ephemeral range (so no outgoing connection
# can be holding it).
free_port() {
  local p i lo hi=50000
  read -r lo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || lo=32768
  ((lo > 21000)) && hi=$lo
  for ((i = 0; i < 100; i++)); do
    p=$((20000 + RANDOM % (hi - 20000)))
    if ! (exec 3<>"/dev/tcp/$HOST/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  die "no free port found"
}

# wait_http URL PID LOGFILE: polls URL until it answers 2xx (at most 60 s); dies, showing
# LOGFILE, if PID exits first. Returns 1 (instead of dying) when PID exited and LOGFILE says its
# address was taken, so the caller can try another port.
wait_http() {
  local url=$1 pid=$2 logf=$3 i
  for ((i = 0; i < 300; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid" 2>/dev/null || true
      grep -qi 'address already in use' "$logf" 2>/dev/null && return 1
      log "process exited during start; its log:"; cat "$logf" >&2 || true
      die "$url did not start"
    fi
    curl -fsSk --max-time 2 -o /dev/null "$url" 2>/dev/null && return 0
    sleep 0.2
  done
  cat "$logf" >&2 || true
  die "$url not ready after 60 s"
}

pg_reachable() { timeout 15 psql "${PG[@]}" -d postgres -qAt -c 'select 1' >/dev/null 2>&1; }

# create_db NAME: a fresh PostgreSQL database, dropped on exit if not before.
create_db() {
  DBS+=("$1")
  timeout 30 psql "${PG[@]}" -d postgres -qAt -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$1\"" >/dev/null
}

drop_db() {
  timeout 30 psql "${PG[@]}" -d postgres -qAt -v ON_ERROR_STOP=1 \
    -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" >/dev/null 2>&1 ||
    log "could not drop database $1"
}

# start_scaivault RUNDIR DATABASE_URL LOGFILE [VAR=VALUE ...]: the release server ($BIN) on a
# free port, from the empty folder RUNDIR (so no config/scaivault.toml is read), with
# MASTER_KEY and TOKEN, JSON logs at warn; extra VAR=VALUE settings override. Waits until
# /v1/health/ready answers; tries another port if the chosen one was taken meanwhile.
# Sets SERVER_PID and SERVER_PORT; the server's output is appended to LOGFILE.
start_scaivault() {
  local dir=$1 url=$2 logf=$3 try port
  shift 3
  mkdir -p "$dir"
  for try in 1 2 3; do
    port=$(free_port)
    (cd "$dir" && exec env -u DATABASE_URL \
      SCAIVAULT_LISTEN="$HOST:$port" SCAIVAULT_DATABASE_URL="$url" \
      SCAIVAULT_DATA_DIR="$dir/data" SCAIVAULT_MASTER_KEY="$MASTER_KEY" \
      SCAIVAULT_ROOT_TOKEN="$TOKEN" SCAIVAULT_LOG_FORMAT=json RUST_LOG=warn \
      "$@" "$BIN" serve) >>"$logf" 2>&1 &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    if wait_http "http://$HOST:$port/v1/health/ready" "$SERVER_PID" "$logf"; then
      SERVER_PORT=$port
      return 0
    fi
    log "port $port was taken (try $try); trying another"
  done
  die "scaivault did not start (ports taken)"
}

json_str() { printf '"%s"' "$(sed 's/\\/\\\\/g; s/"/\\"/g' <<<"$1")"; }

# ---------------------------------------------------------------- CPU accounting
# To tell a CPU-bound run from a waiting one. cpu_snap PID... -> one line:
# "machine_busy_ticks machine_total_ticks pid1_ticks pid2_ticks ..." (utime + stime, CLK_TCK).
TICK=$(getconf CLK_TCK)
cpu_snap() {
  local p line=""
  line=$(awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t; exit }' /proc/stat)
  for p in "$@"; do
    line+=" $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)"
  done
  echo "$line"
}

# cpu_delta "SNAP1" "SNAP2" -> "busy% pid1_cpu_s pid2_cpu_s" (2 cores = 200%)
cpu_delta() {
  awk -v a="$1" -v b="$2" -v tick="$TICK" -v ncpu="$(nproc)" 'BEGIN {
    split(a, x, " "); split(b, y, " ")
    tot = y[2] - x[2]; busy = (tot > 0) ? 100 * ncpu * (y[1] - x[1]) / tot : 0
    printf "%.0f %.2f %.2f\n", busy, (y[3] - x[3]) / tick, (y[4] - x[4]) / tick }'
}

# thread_snap PID: "tid comm ticks" per thread.
thread_snap() {
  local t
  for t in /proc/"$1"/task/*; do
    printf '%s %s %s\n' "${t##*/}" "$(tr ' ' '_' <"$t/comm" 2>/dev/null || echo '?')" \
      "$(sed 's/.*) //' "$t/stat" 2>/dev/null | awk '{ print $12 + $13 }' || echo 0)"
  done
}

# top_thread FILE1 FILE2 SECONDS: the busiest thread between two thread_snap files, "comm:NN%".
top_thread() {
  awk -v secs="$3" -v tick="$TICK" 'NR == FNR { a[$1] = $3; next }
    { d = $3 - a[$1]; if (d > best) { best = d; name = $2 } }
    END { printf "%s:%.0f%%\n", name, (secs > 0) ? 100 * best / tick / secs : 0 }' "$1" "$2"
}

# pids_ticks PID...: their summed CPU ticks.
pids_ticks() {
  local p s=0 v
  for p in "$@"; do
    v=$(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)
    s=$((s + v))
  done
  echo "$s"
}
