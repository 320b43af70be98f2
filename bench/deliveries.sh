#!/usr/bin/env bash
# Webhook deliveries per second only: the "deliveries" section of bench/run.sh (same table and
# JSON). Usage: bench/deliveries.sh   (BENCH_DELIVERIES=20000, BENCH_PERF=1: see bench/README.md)
set -euo pipefail
BENCH_ONLY=deliveries exec "$(dirname "$0")/run.sh"
