#!/usr/bin/env bash
# The lake as Apache Iceberg on S3 (MinIO on loopback, started by scripts/minio.sh and stopped at the
# end): smartcity run --lake s3://… --table-format delta,iceberg with lake maintenance on (compaction
# within the run), then every table read from the server by pyiceberg (StaticTable from the metadata
# object) and DuckDB's iceberg extension (over httpfs) must give exactly the rows the deltalake package
# reads from the Delta log, with the Delta schema and partition spec (tests/e2e/lake_iceberg.py);
# crawl --export glue registers every table in the Iceberg form (table_type ICEBERG, metadata_location);
# then kill -9 right after a Delta commit (before its Iceberg commit) and restart: equal again.
#
# Usage: lake_iceberg_s3.sh SMARTCITY
set -euo pipefail
. "$(dirname "$0")/lib.sh"
smartcity=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
workdir iceberg-s3
start_minio "$work/minio" smartcity
python_env

opts=(--duration 2h --start 2026-01-05T23:00:00Z --vehicles 20 --seed 5 --trigger 100ms --no-serve
      --warehouse none -q --table-format delta,iceberg
      --maintenance on --maintenance-interval 200ms --vacuum-retention 2s --log-retention 2s)

"$smartcity" run "${opts[@]}" --speedup max --lake s3://smartcity/lake
got=$("$PY" "$here/lake_iceberg.py" s3://smartcity/lake --delta) || fail "on S3: $got"
case "$got" in *" 0 rows"*) fail "the run on S3 landed nothing" ;; esac
ok "run on S3: $got"
# The Glue export registers each table in the Iceberg form, at its newest metadata object.
"$smartcity" crawl --lake s3://smartcity/lake --export glue >"$work/glue.json"
n=$(awk '/"table_type": "ICEBERG"/ {n++} END {print n + 0}' "$work/glue.json")
[ "$n" = 8 ] || fail "crawl --export glue: $n of 8 tables in the Iceberg form"
grep -q '"metadata_location": "s3://smartcity/lake/vehicle_data/metadata/v[0-9]*.metadata.json"' "$work/glue.json" ||
  fail "crawl --export glue: no metadata_location for vehicle_data: $(head -c 600 "$work/glue.json")"
ok "crawl --export glue: 8 tables as table_type ICEBERG with their metadata_location"

crash_run "put-if-absent:_delta_log/:10:after" "$work/kill.log" \
  "$smartcity" run "${opts[@]}" --speedup 100 --lake s3://smartcity/kill
lag=$("$PY" "$here/lake_iceberg.py" s3://smartcity/kill --lagging) ||
  fail "after a kill right after a Delta commit no Iceberg metadata lags: nothing to heal"
echo "$lag"
"$smartcity" run "${opts[@]}" --speedup max --lake s3://smartcity/kill
got=$("$PY" "$here/lake_iceberg.py" s3://smartcity/kill --delta) || fail "after the kill on S3: $got"
ok "kill -9 after a Delta commit on S3 + restart: $got"
finish
