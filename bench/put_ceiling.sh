#!/usr/bin/env bash
# The ceiling on PUT that the event-sequence lock sets, measured with pgbench alone (no
# scaivault): every write that stores an event takes a transaction-scoped advisory lock before
# the event gets its seq, and holds it through its commit's WAL flush, so writers take turns
# on that part (it is what makes seq order commit order for the events feed). Transactions,
# pgbench -M prepared -c16 -j2, 5 s each, alternated over ROUNDS rounds:
#   insert         one single-row INSERT (the `pgbench_insert` row of bench/run.sh)
#   locked         INSERT; SELECT the lock; INSERT the event; COMMIT  (the shape before 2026-12-06)
#   locked_notify  the same with NOTIFY (migration 0014's trigger on events does one)
#   merged         INSERT; INSERT the event FROM the lock's scan; COMMIT  (the shape since)
#   unlocked       INSERT; INSERT the event; COMMIT  (no lock: what the lock costs)
# Usage: bench/put_ceiling.sh [ROUNDS]   (PostgreSQL on 127.0.0.1:5432; database put_ceiling)
set -euo pipefail
rounds=${1:-2}
PG=(-h 127.0.0.1 -U postgres)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/insert.sql" <<'SQL'
INSERT INTO ins (data) VALUES (repeat('x', 200));
SQL
cat >"$work/locked.sql" <<'SQL'
BEGIN;
INSERT INTO ins (data) VALUES (repeat('x', 200));
SELECT pg_advisory_xact_lock(7243001);
INSERT INTO ev (tenant, data) VALUES ('default', repeat('y', 200));
COMMIT;
SQL
cat >"$work/locked_notify.sql" <<'SQL'
BEGIN;
INSERT INTO ins (data) VALUES (repeat('x', 200));
SELECT pg_advisory_xact_lock(7243001);
INSERT INTO ev (tenant, data) VALUES ('default', repeat('y', 200));
NOTIFY scaivault_events;
COMMIT;
SQL
cat >"$work/merged.sql" <<'SQL'
BEGIN;
INSERT INTO ins (data) VALUES (repeat('x', 200));
INSERT INTO ev (tenant, data) SELECT 'default', repeat('y', 200) FROM pg_advisory_xact_lock(7243001);
COMMIT;
SQL
cat >"$work/unlocked.sql" <<'SQL'
BEGIN;
INSERT INTO ins (data) VALUES (repeat('x', 200));
INSERT INTO ev (tenant, data) VALUES ('default', repeat('y', 200));
COMMIT;
SQL
psql "${PG[@]}" -qX -d postgres -c "DROP DATABASE IF EXISTS put_ceiling" -c "CREATE DATABASE put_ceiling" >/dev/null 2>&1
psql "${PG[@]}" -qX -d put_ceiling >/dev/null <<'SQL'
CREATE TABLE ev (seq BIGSERIAL PRIMARY KEY, tenant TEXT, data TEXT);
CREATE INDEX ev_t ON ev (tenant, seq);
CREATE TABLE ins (id BIGSERIAL PRIMARY KEY, data TEXT);
SQL
declare -A sum
for r in $(seq 1 "$rounds"); do
  for s in insert locked locked_notify merged unlocked; do
    tps=$(pgbench "${PG[@]}" -n -M prepared -c16 -j2 -T5 -f "$work/$s.sql" put_ceiling 2>/dev/null |
      awk '/^tps = / { printf "%.0f", $3 }')
    echo "round $r  $s  ${tps:-0} tps"
    sum[$s]=$((${sum[$s]:-0} + ${tps:-0}))
  done
done
for s in locked locked_notify merged unlocked; do
  awk -v s="$s" -v a="${sum[$s]}" -v b="${sum[insert]}" 'BEGIN { printf "%-14s %.3f x insert\n", s, a / b }'
done
psql "${PG[@]}" -qX -d postgres -c "DROP DATABASE put_ceiling" >/dev/null 2>&1 || true
