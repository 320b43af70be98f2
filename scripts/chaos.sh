#!/usr/bin/env bash
# Fault injection on the real binary (README "Faults it survives"): runs each fault of issue 18
# under a mixed load of writes, audited reads, webhook deliveries and scheduled rotations,
# checks that nothing acknowledged was lost, and prints one line per fault (requests sent, 2xx,
# 503/507, other statuses, connection errors, recovery time, lost items).
#
#   scripts/chaos.sh                    # every fault, full size (about 10 minutes on 2 cores)
#   scripts/chaos.sh --short            # the short versions (what the default suite runs)
#   scripts/chaos.sh pg-kill disk-full  # some faults only
#
# Faults: pg-restart, pg-kill (fault 1), kill-9 (2), disk-full (3), replica-kill (4),
# receiver-down (5), slow-clients (6). PostgreSQL faults run on a throwaway cluster of their
# own (initdb + pg_ctl); kill-9 and replica-kill use $SCAIVAULT_TEST_PG_URL (default: the
# server on 127.0.0.1:5432). disk-full mounts a tmpfs and needs root (it says so and skips
# otherwise). A full run's output is kept in bench/results/chaos-<UTC time>.log.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "chaos: $*" >&2; }

full=1
faults=()
for a in "$@"; do
  case "$a" in
    --short) full=0 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) faults+=("$a") ;;
  esac
done
[ ${#faults[@]} -gt 0 ] || faults=(pg-restart pg-kill kill-9 disk-full replica-kill receiver-down slow-clients)

filters=()
for f in "${faults[@]}"; do
  case "$f" in
    pg-restart) filters+=(chaos::pg_faults::postgres_restarted_under_load) ;;
    pg-kill) filters+=(chaos::pg_faults::postgres_killed_under_load) ;;
    kill-9) filters+=(chaos::kill9::) ;;
    disk-full) filters+=(chaos::disk_full::) ;;
    replica-kill) filters+=(chaos::replicas::) ;;
    receiver-down) filters+=(chaos::receiver_down::) ;;
    slow-clients) filters+=(chaos::slow_clients::) ;;
    *) say "unknown fault '$f'"; exit 2 ;;
  esac
done

if [ -z "${SCAIVAULT_TEST_PG_URL:-}" ]; then
  export SCAIVAULT_TEST_PG_URL="postgres://postgres@127.0.0.1:5432/postgres"
fi
if [ "$full" = 1 ]; then
  export SCAIVAULT_CHAOS=full
  mkdir -p bench/results
  log="bench/results/chaos-$(date -u +%Y%m%dT%H%MZ).log"
else
  unset SCAIVAULT_CHAOS
  log=$(mktemp)
fi

{
  echo "chaos: commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo '+dirty'), $(date -u +%FT%TZ), $(nproc) cores, $([ "$full" = 1 ] && echo full || echo short) run, faults: ${faults[*]}"
  echo "chaos: PostgreSQL for kill-9/replica-kill at ${SCAIVAULT_TEST_PG_URL}"
} | tee "$log"

started=$(date +%s)
set +e
# One fault at a time: each one's numbers are its own, not shared with another's load.
cargo test --test it -- --include-ignored --nocapture --test-threads=1 "${filters[@]}" 2>&1 | tee -a "$log"
status=${PIPESTATUS[0]}
set -e

{
  echo
  echo "chaos: summary ($(( $(date +%s) - started )) s)"
  # (--nocapture prints a test's lines after its "test … " prefix, so match anywhere.)
  grep -oE 'chaos: (fault=|slow-clients:).*' "$log" || echo "chaos: no fault line printed"
  grep -E '^test result:' "$log" || true
} | tee -a "$log.summary"
cat "$log.summary" >> "$log" && rm -f "$log.summary"
if [ "$full" = 1 ]; then say "log: $log"; fi
if [ "$status" -ne 0 ]; then
  say "FAIL: a fault run failed (see above)"
  exit "$status"
fi
say "every fault run passed; lost=0 everywhere"
