#!/usr/bin/env bash
# Scheduler tick time and server RSS with N (default 100,000) seeded secrets only: the "scale"
# section of bench/run.sh (same table and JSON). Usage: bench/scheduler.sh [N]
set -euo pipefail
if (($# > 0)); then export BENCH_SECRETS=$1; fi
BENCH_ONLY=scale exec "$(dirname "$0")/run.sh"
