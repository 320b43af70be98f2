#!/usr/bin/env bash
# Alternated A/B of two server binaries over bench/run.sh's http section (old, new, old, new,
# ...), then per row the ratio new/old of the values summed over the rounds, and of the server
# CPU per request where the row measures it. Alternating spreads the machine's drift over both.
# Usage: bench/ab.sh OLD_BIN NEW_BIN [ROUNDS]    (default 2 rounds; log in bench/results/)
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $# -ge 2 ]] || { echo "usage: bench/ab.sh OLD_BIN NEW_BIN [ROUNDS]" >&2; exit 2; }
old=$1 new=$2 rounds=${3:-2}
for b in "$old" "$new"; do [[ -x $b ]] || { echo "not an executable: $b" >&2; exit 2; }; done
log="bench/results/ab-$(date -u +%Y%m%dT%H%MZ).log"
echo "# bench/ab.sh $old $new $rounds: http section, old and new alternated" >"$log"
for r in $(seq 1 "$rounds"); do
  for side in old new; do
    bin=$old
    [[ $side == new ]] && bin=$new
    echo "=== $side round $r" | tee -a "$log"
    BENCH_BIN=$bin BENCH_ONLY=http bench/run.sh 2>>"$log.stderr" |
      sed -n '/^scenario/,/^nproc/p' | tee -a "$log"
  done
done
{
  echo "=== new/old, summed over $rounds rounds (value; server CPU per request where measured)"
  awk '
    /^=== old/ { side = "old"; next }
    /^=== new/ { side = "new"; next }
    $3 ~ /^[0-9.]+$/ && $2 != "" {
      k = $1 " " $2; v[side, k] += $3; keys[k] = 1
      if (match($0, /cpu=[0-9.]+us/)) c[side, k] += substr($0, RSTART + 4, RLENGTH - 6) }
    END {
      for (k in keys) if (v["old", k] > 0 && v["new", k] > 0) {
        line = sprintf("%-28s value %.3f", k, v["new", k] / v["old", k])
        if (c["old", k] > 0 && c["new", k] > 0) line = line sprintf("  cpu/req %.3f", c["new", k] / c["old", k])
        print line } }' "$log" | sort
} | tee -a "$log"
rm -f "$log.stderr"
echo "log: $log"
