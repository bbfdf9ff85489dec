#!/usr/bin/env bash
# The lake as Apache Iceberg too (issue 23): smartcity run with --table-format delta,iceberg and lake
# maintenance on (short intervals, so compaction replaces files within the run), then every table read
# by pyiceberg (StaticTable from the metadata file) and DuckDB's iceberg extension must give exactly
# the rows the Delta readers give (tests/e2e/lake_iceberg.py: digest and rows per date), with the
# schema and partition spec of the Delta table. Then kill -9 inside commits (before an Iceberg metadata
# commit, right after a Delta commit, after an Iceberg manifest upload: each crash point must fire,
# and after one the Iceberg metadata must lag the Delta log) and restart: the same rows again, and the
# Iceberg metadata caught up with the Delta log. Between the two, compact --vacuum must delete
# replaced data files and unreferenced Iceberg metadata, and both readers still read the same rows.
#
# Usage: lake_iceberg.sh SMARTCITY
set -euo pipefail
. "$(dirname "$0")/lib.sh"
smartcity=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
workdir iceberg
python_env
digest_bin=${SMARTCITY_LAKE_DIGEST:-$(dirname "$smartcity")/../lake/lake_digest}

# 2 h of city time across midnight (compaction closes the Jan 5 partitions on the way).
opts=(--duration 2h --start 2026-01-05T23:00:00Z --vehicles 20 --seed 5 --fault duplicate=0.01
      --trigger 100ms --no-serve --warehouse none -q --table-format delta,iceberg
      --maintenance on --maintenance-interval 200ms --vacuum-retention 2s --log-retention 2s)

"$smartcity" run "${opts[@]}" --speedup max --lake "$work/clean"
"$PY" "$here/lake_digest.py" "$work/clean" "$digest_bin" >"$work/clean.json"
case "$(cat "$work/clean.json")" in *'"enriched_data": {"hash": "0"'*) fail "the run landed nothing" ;; esac
grep -q '"operation" *: *"replace"' "$work"/clean/*/metadata/v*.metadata.json ||
  fail "no compaction was mirrored to Iceberg: the run is too short to test it"
got=$("$PY" "$here/lake_iceberg.py" "$work/clean" "$work/clean.json") || fail "after the run: $got"
ok "run --speedup max with compaction: $got"

# Vacuum by hand: a run with maintenance off and 1 MiB epochs commits more often than the Iceberg
# metadata keeps snapshots (39 commits per table, however busy the machine: the epochs close on
# their size, not on the clock), so manifests of dropped snapshots and old metadata files are no
# longer referenced, and it leaves small files; compact then replaces them, and vacuum with
# retention 0 must delete the replaced data files and the unreferenced Iceberg metadata. Both
# readers still read exactly what the Delta readers read.
"$smartcity" run --duration 1h --start 2026-01-05T12:00:00Z --vehicles 20 --seed 6 --trigger 100ms \
  --no-serve --warehouse none -q --table-format delta,iceberg --maintenance off --speedup max \
  --epoch-memory 1 --lake "$work/vac"
versions=$(find "$work/vac/enriched_data/_delta_log" -name '*.json' | wc -l)
(( versions > 21 )) ||
  fail "the run made $versions Delta versions of enriched_data: too few to outgrow the 20 Iceberg snapshots kept"
"$PY" "$here/lake_digest.py" "$work/vac" "$digest_bin" >"$work/vac.json"
"$smartcity" compact --lake "$work/vac" --vacuum --retention 0s >"$work/vacuum.log"
read -r data meta < <(awk '/ deleted [0-9]+ unreferenced data files/ {
    for (i = 1; i <= NF; i++) { if ($i == "deleted") d += $(i + 1); if ($(i + 1) == "Iceberg") m += $i } }
  END { print d + 0, m + 0 }' "$work/vacuum.log")
(( data > 0 )) || fail "compact --vacuum deleted no replaced data file: $(cat "$work/vacuum.log")"
(( meta > 0 )) || fail "compact --vacuum deleted no Iceberg metadata file: $(cat "$work/vacuum.log")"
"$PY" "$here/lake_digest.py" "$work/vac" "$digest_bin" >"$work/vacuumed.json"
cmp -s "$work/vac.json" "$work/vacuumed.json" || fail "compact --vacuum changed the Delta tables"
got=$("$PY" "$here/lake_iceberg.py" "$work/vac" "$work/vac.json") || fail "after compact --vacuum: $got"
ok "compact --vacuum (deleted $data data files and $meta Iceberg metadata files): $got"

# kill -9 inside commits, then restart, until the run completes (paced, so that every point is reached).
points=("put-if-absent:/metadata/v:12" "put-if-absent:_delta_log/:10:after" "put:/metadata/:30:after")
for i in "${!points[@]}"; do
  crash_run "${points[$i]}" "$work/kill-$i.log" "$smartcity" run "${opts[@]}" --speedup 300 --lake "$work/kill"
  if [ "$i" = 1 ]; then
    lag=$("$PY" "$here/lake_iceberg.py" "$work/kill" --lagging) ||
      fail "after a kill right after a Delta commit no Iceberg metadata lags: nothing to heal"
    echo "$lag"
  fi
done
"$smartcity" run "${opts[@]}" --speedup max --lake "$work/kill"
"$PY" "$here/lake_digest.py" "$work/kill" "$digest_bin" >"$work/kill.json"
cmp -s "$work/clean.json" "$work/kill.json" ||
  fail "after the kills the Delta tables differ: $(cat "$work/kill.json") != $(cat "$work/clean.json")"
got=$("$PY" "$here/lake_iceberg.py" "$work/kill" "$work/kill.json") || fail "after the kills: $got"
ok "${#points[@]} x kill -9 inside Delta and Iceberg commits + restart: $got"
finish
