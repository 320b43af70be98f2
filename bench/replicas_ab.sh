#!/usr/bin/env bash
# Two replicas on one PostgreSQL database, audited GET on both at once (wrk -t1 -c8 each), for
# two server builds alternated (old, new, old, new, ...). Both replicas' read batches chain
# onto one audit log, so this shows what the sealer's lock costs when writers take turns on it.
# After each run the chain is checked: one link per row, no gap.
# Usage: bench/replicas_ab.sh OLD_BIN NEW_BIN [ROUNDS]    (default 2; log in bench/results/)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
LOG_TAG=replicas
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
[[ $# -ge 2 ]] || { echo "usage: bench/replicas_ab.sh OLD_BIN NEW_BIN [ROUNDS]" >&2; exit 2; }
old=$1 new=$2 rounds=${3:-2} secs=${BENCH_SECONDS:-5}
for b in "$old" "$new"; do [[ -x $b ]] || die "not an executable: $b"; done
need_tools wrk:wrk curl:curl psql:postgresql-client
pg_reachable || die "PostgreSQL on 127.0.0.1:5432 is not reachable"
bench_workdir replicas
mkdir -p bench/results
out="bench/results/replicas-$(date -u +%Y%m%dT%H%MZ).log"
TOKEN="skt_bench_$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
MASTER_KEY=$(head -c 32 /dev/urandom | base64)
AUTH="Authorization: Bearer $TOKEN"

# one_run SIDE BIN: prints "SIDE req/s(a) req/s(b) total non2xx rows distinct_seqs max_seq"
one_run() {
  local side=$1 bin=$2 db="scaivault_replicas_$$_$1" a b url pa pb w1 w2
  create_db "$db"
  url="postgres://postgres@127.0.0.1:5432/$db"
  BIN=$bin start_scaivault "$WORK/$side-a" "$url" "$WORK/$side-a.log" SCAIVAULT_AUDIT_READS=true
  pa=$SERVER_PID a=$SERVER_PORT
  BIN=$bin start_scaivault "$WORK/$side-b" "$url" "$WORK/$side-b.log" SCAIVAULT_AUDIT_READS=true
  pb=$SERVER_PID b=$SERVER_PORT
  curl -sf -X PUT "http://$HOST:$a/v1/secrets/bench/s" -H "$AUTH" -H 'Content-Type: application/json' \
    -d '{"data":{"client_id":"3MVG9-bench","client_secret":"0123456789abcdef"}}' >/dev/null ||
    die "seed PUT failed"
  for d in 1 "$secs"; do
    wrk -t1 -c8 -d"${d}s" --timeout 5s "http://$HOST:$a/v1/secrets/bench/s" -H "$AUTH" >"$WORK/wa" 2>&1 &
    w1=$!
    wrk -t1 -c8 -d"${d}s" --timeout 5s "http://$HOST:$b/v1/secrets/bench/s" -H "$AUTH" >"$WORK/wb" 2>&1 &
    w2=$!
    wait "$w1" "$w2"
  done
  stop_pid "$pa"
  stop_pid "$pb"
  local ra rb non chain
  ra=$(awk '/Requests\/sec/ { print $2 }' "$WORK/wa")
  rb=$(awk '/Requests\/sec/ { print $2 }' "$WORK/wb")
  non=$(cat "$WORK/wa" "$WORK/wb" | awk '/Non-2xx/ { n += $NF } END { print n + 0 }')
  chain=$(psql "${PG[@]}" -d "$db" -qAt -F' ' -c \
    "SELECT count(*), count(DISTINCT seq), max(seq) FROM audit_log")
  drop_db "$db"
  echo "$side $ra $rb $(awk -v x="$ra" -v y="$rb" 'BEGIN { printf "%.1f", x + y }') $non $chain"
}

echo "# bench/replicas_ab.sh $old $new $rounds: side a_req/s b_req/s total non2xx rows distinct_seqs max_seq" | tee "$out"
for r in $(seq 1 "$rounds"); do
  one_run old "$old" | tee -a "$out"
  one_run new "$new" | tee -a "$out"
done
awk '$1 == "old" { o += $4 } $1 == "new" { n += $4 }
  END { if (o > 0) printf "=== new/old total req/s, summed over the rounds: %.3f\n", n / o }' "$out" | tee -a "$out"
echo "log: $out"
