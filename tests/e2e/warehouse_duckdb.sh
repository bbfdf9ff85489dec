#!/usr/bin/env bash
# smartcity load into the embedded DuckDB warehouse (the default target):
#   1. `run` loads enriched_data into <lake>-warehouse.duckdb as it goes (follow mode): at the end the
#      warehouse equals the lake row for row; `load --once` of the other tables: the same;
#   2. the loader killed with kill -9 at 12 random moments mid-load and restarted: exactly the lake;
#   3. --follow: rows committed to the lake appear in the warehouse within 5 s;
#   4. `run` keeps up: with compaction every 200 ms its follower loads no row twice and opens no
#      transaction for a version without rows; its progress line shows the lag; SIGINT mid-run
#      (paced) leaves the warehouse equal to the lake, its bookkeeping at the lake's version.
# Schema evolution on DuckDB is in src/warehouse/loader_test.cc and warehouse_itest.cc.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
smartcity=$(realpath "$1")
workdir warehouse-duckdb
python_env
compare() { "$PY" "$root/tests/e2e/warehouse_compare.py" "$1" "$2" "duckdb:$3"; }
lake_version() { "$PY" "$root/tests/e2e/lake_versions.py" "$1" "$2" | cut -d' ' -f1; }
# The newest version that adds rows: a follower's bookkeeping reaches it (versions without rows
# after it are recorded only when the loader settles, at a stop).
rows_version() { "$PY" "$root/tests/e2e/lake_versions.py" "$1" "$2" | cut -d' ' -f2; }
duck() {  # duck <file> <sql>: one value
  "$PY" -c 'import sys, duckdb; print(duckdb.connect(sys.argv[1], read_only=True).execute(sys.argv[2]).fetchone()[0])' "$1" "$2"
}

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
# The kills fall within the fastest of three whole loads (a slow first one would put them after
# the end of a faster load).
full_ms=
for _ in 1 2 3; do
  rm -f "$work/timing.duckdb" "$work/timing.duckdb.wal"
  t0=$(date +%s%N)
  "$smartcity" load --once -q --lake "$work/lake" --warehouse "duckdb:$work/timing.duckdb" --rows-per-transaction 1
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  if [ -z "$full_ms" ] || [ "$ms" -lt "$full_ms" ]; then full_ms=$ms; fi
done
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
  kill -9 $pid 2>/dev/null || echo "# loader $i had finished before the kill"
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
want=$(rows_version "$work/lake2" enriched_data)
caught_up() { [ "$(loaded_version)" -ge "$want" ]; }
wait_for 60 caught_up || { cat "$work/follow.log" >&2; fail "the follower did not load lake version $want within 60 s"; }
kill -TERM "$follow_pid"
run_status rc wait "$follow_pid"
[ "$rc" = 0 ] || { cat "$work/follow.log" >&2; fail "load --follow exited $rc after SIGTERM"; }
compare "$work/lake2" enriched_data "$work/follow.duckdb"
ok "--follow: every sampled lake version in the warehouse within 5 s; then equal to the lake"

# --- 4. run keeps up: compaction while following; the lag shown; SIGINT mid-run ---------------
"$smartcity" run --no-serve --duration 30m --vehicles 20 --seed 11 --speedup 60 --lake "$work/lake3" \
  --trigger 500ms --maintenance-interval 200ms --max-small-files 2 >"$work/run3.log" 2>&1 &
run_pid=$!
track "$run_pid"
optimized() { grep -lq '"OPTIMIZE"' "$work/lake3/enriched_data/_delta_log/"*.json 2>/dev/null; }
wait_for 25 optimized || { cat "$work/run3.log" >&2; fail "no compaction of enriched_data within 25 s"; }
sleep 2
kill -INT "$run_pid"
run_status rc wait "$run_pid"
[ "$rc" = 0 ] || { cat "$work/run3.log" >&2; fail "run exited $rc after SIGINT"; }
expect_in "$work/run3.log" "run: stopped on request"
grep -Eq '\| warehouse lag [0-9]+ commits?' "$work/run3.log" || { cat "$work/run3.log" >&2; fail "no warehouse lag in run's progress lines"; }
grep -Eq '^  warehouse: [0-9]+ rows loaded into .*; warehouse lag 0 commits$' "$work/run3.log" ||
  { cat "$work/run3.log" >&2; fail "run's summary does not show the warehouse caught up"; }
compare "$work/lake3" enriched_data "$work/lake3-warehouse.duckdb"
v=$(lake_version "$work/lake3" enriched_data)
compactions=$(grep -l '"OPTIMIZE"' "$work/lake3/enriched_data/_delta_log/"*.json | wc -l)
got=$(duck "$work/lake3-warehouse.duckdb" "SELECT max(delta_version) FROM _smartcity_loads WHERE table_name = 'enriched_data'")
[ "$got" = "$v" ] || fail "the warehouse's bookkeeping is at version $got, the lake at $v"
# A bookkeeping row without rows is only the settling one at the stop (if the lake ended on
# versions without rows); every other transaction loaded rows.
empty=$(duck "$work/lake3-warehouse.duckdb" "SELECT count(*) FROM _smartcity_loads WHERE table_name = 'enriched_data' AND row_count = 0")
[ "$empty" -le 1 ] || fail "$empty load transactions without rows"
ok "run: $compactions compactions while following, no row loaded twice, no transaction without rows; lag shown; SIGINT mid-run left the warehouse equal to the lake at version $v"
finish
