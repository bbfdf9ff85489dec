#!/usr/bin/env bash
# smartcity load into the embedded DuckDB warehouse (the default target):
#   1. `run` loads enriched_data into <lake>-warehouse.duckdb as it goes (follow mode): at the end the
#      warehouse equals the lake row for row; `load --once` of the other tables: the same;
#   2. the loader killed with kill -9 at 12 random moments mid-load and restarted: exactly the lake;
#   3. --follow: rows committed to the lake appear in the warehouse within 5 s.
# Schema evolution on DuckDB is in src/warehouse/loader_test.cc and warehouse_itest.cc.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
smartcity=$(realpath "$1")
workdir warehouse-duckdb
python_env
compare() { "$PY" "$root/tests/e2e/warehouse_compare.py" "$1" "$2" "duckdb:$3"; }
lake_version() { ls "$1/$2/_delta_log/" | grep -c '\.json$' | awk '{print $1 - 1}'; }

# --- 1. run (with its follower) and load --once ------------------------------------------------
opts=(--no-serve --duration 20m --vehicles 30 --incident-rate 6 --seed 7 --fault duplicate=0.01 --fault malformed=0.005)
"$smartcity" run "${opts[@]}" --speedup max --lake "$work/lake" --trigger 100ms -q
echo "lake: enriched_data at version $(lake_version "$work/lake" enriched_data)"
[ -f "$work/lake-warehouse.duckdb" ] || fail "run made no warehouse beside the lake"
compare "$work/lake" enriched_data "$work/lake-warehouse.duckdb"
tables=vehicle_data,weather_data,emergency_data,_dead_letters
"$smartcity" load --once --lake "$work/lake" --warehouse "duckdb:$work/w1.duckdb" --tables "$tables"
for t in ${tables//,/ }; do compare "$work/lake" "$t" "$work/w1.duckdb"; done
ok "run's follower and load --once: every table equals the lake"

# --- 2. kill -9 at 12 random moments of a load, each followed by a restart ----------------------
# (as in warehouse_postgres.sh: each trial starts from an empty warehouse file)
wh_state() {  # "<rows> <loaded version>" of a DuckDB warehouse file
  "$PY" -c '
import sys, duckdb
c = duckdb.connect(sys.argv[1], read_only=True)
try:
    v = c.execute("SELECT coalesce(max(delta_version), -1) FROM _smartcity_loads WHERE table_name = '"'"'enriched_data'"'"'").fetchone()[0]
    n = c.execute("SELECT count(*) FROM enriched_data").fetchone()[0]
except duckdb.CatalogException:
    v, n = -1, 0
print(n, v)' "$1"
}
t0=$(date +%s%N)
"$smartcity" load --once -q --lake "$work/lake" --warehouse "duckdb:$work/timing.duckdb" --rows-per-transaction 1
full_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
want=$(wh_state "$work/timing.duckdb")
echo "a whole load: ${full_ms} ms; rows and version: $want"
landed=0; partial=0
for i in $(seq 1 12); do
  rm -f "$work/killed.duckdb" "$work/killed.duckdb.wal"
  "$smartcity" load --once -q --lake "$work/lake" --warehouse "duckdb:$work/killed.duckdb" --rows-per-transaction 1 &
  pid=$!
  track "$pid"
  sleep "$(awk -v ms="$full_ms" -v r="$RANDOM" 'BEGIN { printf "%.3f", ms * (0.05 + 0.6 * r / 32767) / 1000 }')"
  # The kill landed when the loader died of it (137); a loader that had finished must have
  # finished well (0).
  kill -9 $pid 2>/dev/null || fail "loader $i (pid $pid) was gone before the kill"
  run_status rc wait $pid
  case $rc in
    137) landed=$((landed + 1)) ;;
    0) ;;
    *) fail "loader $i exited $rc before it was killed" ;;
  esac
  if [ -f "$work/killed.duckdb" ]; then
    at=$(wh_state "$work/killed.duckdb" | cut -d' ' -f2)
    if [ "$at" -ge 0 ] && [ "$at" != "${want#* }" ]; then partial=$((partial + 1)); fi
  fi
  "$smartcity" load --once -q --lake "$work/lake" --warehouse "duckdb:$work/killed.duckdb"
  got=$(wh_state "$work/killed.duckdb")
  [ "$got" = "$want" ] || fail "after kill $i: rows/version $got, want $want"
done
[ "$landed" -ge 10 ] || fail "only $landed of 12 kills hit a running loader"
compare "$work/lake" enriched_data "$work/killed.duckdb"
ok "kill -9 landed mid-load $landed of 12 times ($partial with some versions committed); every restart ended exact"

# --- 3. --follow latency (read from the loader's progress lines: the file is locked while it runs)
"$smartcity" load --follow --lake "$work/lake2" --warehouse "duckdb:$work/follow.duckdb" \
  >"$work/follow.log" 2>&1 &
follow_pid=$!
track "$follow_pid"
"$smartcity" run --no-serve --duration 30m --vehicles 20 --seed 3 --speedup 60 --lake "$work/lake2" --trigger 1s --warehouse none -q &
run_pid=$!
track "$run_pid"
loaded_version() {  # the highest "versions a..b" in the progress log
  grep -o 'versions [0-9]*\.\.[0-9]*' "$work/follow.log" | sed 's/.*\.\.//' | sort -n | tail -1 | awk '{print} END {if (NR == 0) print -1}'
}
for sample in 1 2 3 4 5; do
  sleep 1.5
  v=$(lake_version "$work/lake2" enriched_data 2>/dev/null || echo -1)
  [ "$v" -ge 1 ] || continue
  start=$(date +%s.%N)
  until [ "$(loaded_version)" -ge "$v" ]; do
    if awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { exit !(b - a > 5) }'; then
      cat "$work/follow.log" >&2; fail "lake version $v not in the DuckDB warehouse within 5 s"
    fi
    sleep 0.1
  done
  echo "follow: lake version $v in the warehouse after $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')s"
done
wait "$run_pid"
want=$(lake_version "$work/lake2" enriched_data)
caught_up() { [ "$(loaded_version)" -ge "$want" ]; }
wait_for 60 caught_up || { cat "$work/follow.log" >&2; fail "the follower did not load lake version $want within 60 s"; }
kill -TERM "$follow_pid"
run_status rc wait "$follow_pid"
[ "$rc" = 0 ] || { cat "$work/follow.log" >&2; fail "load --follow exited $rc after SIGTERM"; }
compare "$work/lake2" enriched_data "$work/follow.duckdb"
ok "--follow: every sampled lake version in the warehouse within 5 s; then equal to the lake"
finish
