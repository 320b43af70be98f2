#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ on stable Rust (`cargo fuzz build -s none`: coverage
# instrumentation, no sanitizer) and runs each for the given seconds, one after another.
#   scripts/fuzz.sh [seconds-per-target] [target...]     (default: 60 s, every target)
# Seeds are read from fuzz/corpus/<target>/ (never written); what a run learns goes to
# $FUZZ_WORK/corpus/<target>/ (default /var/tmp/scaivault-fuzz-work) and is reused next time.
# A crash leaves its input in fuzz/artifacts/<target>/ and makes the script exit non-zero.
# Prints one line per target: executions, and crashed or ok. Needs `cargo install cargo-fuzz`
# (installed here when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
shift || true
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-/var/tmp/scaivault-fuzz-target}"
work="${FUZZ_WORK:-/var/tmp/scaivault-fuzz-work}"

if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  mapfile -t targets < <(cd fuzz && cargo fuzz list)
fi
(cd fuzz && cargo fuzz build -s none)

failed=0
summary=()
for t in "${targets[@]}"; do
  mkdir -p "$work/corpus/$t"
  log="$work/$t.log"
  status=ok
  (cd fuzz && cargo fuzz run -s none "$t" "$work/corpus/$t" "corpus/$t" -- \
    -max_total_time="$secs" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048) >"$log" 2>&1 \
    || status=crashed
  execs=$(grep -E '^stat::number_of_executed_units:' "$log" | awk '{print $2}' | tail -n 1)
  line=$(printf '%-16s %12s execs  %s' "$t" "${execs:-?}" "$status")
  echo "fuzz: $line"
  summary+=("$line")
  if [ "$status" != ok ]; then
    failed=1
    grep -E 'panicked|ERROR: libFuzzer|Test unit written' "$log" | head -n 5 || true
  fi
done
echo "fuzz: summary (${secs}s per target)"
printf '  %s\n' "${summary[@]}"
exit "$failed"
