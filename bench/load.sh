#!/usr/bin/env bash
# Warehouse load benchmark: rows/s that `smartcity load --once` puts into PostgreSQL, against a plain
# `psql \copy` of the same rows from CSV into an identical table (same DDL: primary key, indexes),
# on the same server in the same run. Appends a section to bench/RESULTS.md.
#   bench/load.sh [build/release/smartcity]     (DURATION=2h VEHICLES=60 REPEAT=3)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
smartcity=$(realpath "${1:-$root/build/release/smartcity}")
duration=${DURATION:-2h}
vehicles=${VEHICLES:-60}
repeat=${REPEAT:-3}
work=$(mktemp -d)
chmod 755 "$work"  # the server runs as the postgres user when we are root: it must reach its folder
export SMARTCITY_PG_DIR="$work/pg"
trap '"$root/scripts/postgres.sh" stop || true; rm -rf "$work"' EXIT
eval "$("$root/scripts/postgres.sh" start)"

echo "bench/load.sh: making a lake ($vehicles vehicles, $duration of event time)" >&2
"$smartcity" run --one-trip --speedup max --duration "$duration" --vehicles "$vehicles" --seed 5 --lake "$work/lake" \
  --warehouse none -q
table=enriched_data

now() { date +%s.%N; }
best_load=0; best_copy=0; rows=0
for i in $(seq 1 "$repeat"); do
  dropdb --if-exists a; createdb a
  t0=$(now)
  "$smartcity" load --once -q --lake "$work/lake" --warehouse "postgresql://$PGUSER@127.0.0.1:$PGPORT/a" --tables "$table"
  t1=$(now)
  rows=$(psql -X -qAt -d a -c "SELECT count(*) FROM $table")
  load_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  # The same rows as CSV, and an empty table with the same DDL.
  psql -X -q -d a -c "\\copy $table TO '$work/rows.csv' WITH (FORMAT csv)"
  dropdb --if-exists b; createdb b
  pg_dump -s -t "$table" a | psql -X -q -d b >/dev/null
  t2=$(now)
  psql -X -q -d b -c "\\copy $table FROM '$work/rows.csv' WITH (FORMAT csv)"
  t3=$(now)
  copy_s=$(awk -v a="$t2" -v b="$t3" 'BEGIN { printf "%.3f", b - a }')
  echo "run $i: $rows rows; smartcity load ${load_s}s; psql \\copy ${copy_s}s" >&2
  if [ "$best_load" = 0 ] || awk -v x="$load_s" -v y="$best_load" 'BEGIN { exit !(x < y) }'; then best_load=$load_s; fi
  if [ "$best_copy" = 0 ] || awk -v x="$copy_s" -v y="$best_copy" 'BEGIN { exit !(x < y) }'; then best_copy=$copy_s; fi
done
csv_mb=$(du -m "$work/rows.csv" | cut -f1)
lake_mb=$(du -sm "$work/lake/$table" | cut -f1)
load_rate=$(awk -v r="$rows" -v s="$best_load" 'BEGIN { printf "%.0f", r / s }')
copy_rate=$(awk -v r="$rows" -v s="$best_copy" 'BEGIN { printf "%.0f", r / s }')
ratio=$(awk -v a="$load_rate" -v b="$copy_rate" 'BEGIN { printf "%.2f", a / b }')
section=$(cat <<MD

## Warehouse load into PostgreSQL (issue 7)

Command: \`bench/load.sh\` (REPEAT=$repeat, best run). Date: $(date -u +%Y-%m-%dT%H:%M:%SZ). Commit: $(git -C "$root" rev-parse --short HEAD).
Machine: $(nproc) cores; load average at the end $(cut -d' ' -f1-3 /proc/loadavg) (shared machine).
PostgreSQL $(psql -X -qAt -c 'SHOW server_version') from Debian's package on 127.0.0.1 (fsync on).
Data: \`$table\` of \`smartcity run --one-trip --duration $duration --vehicles $vehicles\` ($rows rows, $lake_mb MB of zstd
Parquet in the lake, $csv_mb MB as CSV). Both targets have the same DDL (the 6-column UNIQUE key + 2 indexes).

| loader | what it includes | seconds | rows/s |
|---|---|---|---|
| \`smartcity load --once\` | Delta log replay, Parquet read (DuckDB), COPY text, bookkeeping, commit | $best_load | **$load_rate** |
| \`psql \\copy ... FROM csv\` | CSV already on disk, COPY only | $best_copy | **$copy_rate** |

\`load\` reaches $ratio× the rate of a bare \`psql \\copy\` of the same rows.
MD
)
printf '%s\n' "$section" >> "$root/bench/RESULTS.md"
printf '%s\n' "$section"
