#!/usr/bin/env bash
# smartcity load into a real PostgreSQL (Debian's package, started on loopback by scripts/postgres.sh
# and stopped at the end):
#   1. after a seeded run, each loaded table equals the lake table row for row (deltalake reader);
#   2. the loader killed with kill -9 at 12 random moments mid-load and restarted ends with exactly
#      the lake's rows; PostgreSQL stopped and restarted while `load --follow` runs: the same;
#   3. --follow: rows committed to the lake appear in the warehouse within 5 s.
# Schema evolution against PostgreSQL is in src/warehouse/warehouse_itest.cc.
set -euo pipefail
smartcity=$(realpath "$1")
src=${SMARTCITY_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
work=$(mktemp -d)
export SMARTCITY_PG_DIR="$work/pg"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  "$src/scripts/postgres.sh" stop || true
  rm -rf "$work"
}
trap cleanup EXIT
eval "$("$src/scripts/postgres.sh" start)"
PY=$("$src/scripts/pyenv.sh")
compare() {  # compare <lake> <table> <db>
  PGDATABASE=$3 "$PY" "$src/tests/e2e/warehouse_compare.py" "$1" "$2" postgres
}
url() { echo "postgresql://$PGUSER@127.0.0.1:$PGPORT/$1"; }
loaded_version() {  # loaded_version <db> <table>
  psql -X -qAt -d "$1" -c "SELECT coalesce(max(delta_version), -1) FROM _smartcity_loads WHERE table_name = '$2'" 2>/dev/null || echo -1
}
lake_version() { ls "$1/$2/_delta_log/" | grep -c '\.json$' | awk '{print $1 - 1}'; }

# --- 1. seeded run, then load --once: row for row -----------------------------------------------
opts=(--duration 20m --vehicles 30 --incident-rate 6 --seed 7 --fault duplicate=0.01 --fault malformed=0.005)
"$smartcity" run "${opts[@]}" --speedup max --lake "$work/lake" --trigger 1s --warehouse none -q
createdb -X seeded
tables=enriched_data,vehicle_data,weather_data,emergency_data,_dead_letters
"$smartcity" load --once --lake "$work/lake" --warehouse "$(url seeded)" --tables "$tables"
for t in ${tables//,/ }; do compare "$work/lake" "$t" seeded; done
# A second --once loads nothing new and changes nothing.
"$smartcity" load --once -q --lake "$work/lake" --warehouse "$(url seeded)" --tables "$tables"
compare "$work/lake" enriched_data seeded
psql -X -qAt -d seeded -c "SELECT data_type FROM information_schema.columns WHERE table_name='enriched_data' AND column_name='timestamp'" | grep -qx 'timestamp with time zone' \
  || { echo "FAIL: timestamp is not timestamptz"; exit 1; }
psql -X -qAt -d seeded -c "SELECT count(*) FROM pg_indexes WHERE tablename='enriched_data'" | awk '$1 < 3 { exit 1 }' \
  || { echo "FAIL: expected a primary key and indexes on enriched_data"; exit 1; }

# --- 2a. kill -9 mid-load, 12 times, then finish --------------------------------------------------
createdb -X killed
landed=0
for i in $(seq 1 12); do
  "$smartcity" load --once -q --lake "$work/lake" --warehouse "$(url killed)" --tables enriched_data,vehicle_data \
    --rows-per-transaction 300 &
  pid=$!
  sleep "0.$((RANDOM % 9 + 1))$((RANDOM % 10))"
  if kill -9 $pid 2>/dev/null; then landed=$((landed + 1)); fi
  wait $pid 2>/dev/null || true
done
echo "kill -9 landed mid-load $landed times; warehouse at version $(loaded_version killed enriched_data) of $(lake_version "$work/lake" enriched_data)"
[ "$landed" -ge 10 ] || { echo "FAIL: only $landed of 12 kills hit a running loader (load too fast for the test)"; exit 1; }
"$smartcity" load --once -q --lake "$work/lake" --warehouse "$(url killed)" --tables enriched_data,vehicle_data
compare "$work/lake" enriched_data killed
compare "$work/lake" vehicle_data killed

# --- 2b + 3. load --follow while the lake grows; PostgreSQL restarted mid-run ---------------------
createdb -X follow
"$smartcity" load --follow --lake "$work/lake2" --warehouse "$(url follow)" --tables enriched_data \
  >"$work/follow.log" 2>&1 &
follow_pid=$!
pids+=("$follow_pid")
"$smartcity" run --duration 30m --vehicles 20 --seed 3 --speedup 60 --lake "$work/lake2" --trigger 1s --warehouse none -q &
run_pid=$!
pids+=("$run_pid")
# Follow latency: sample the newest lake version and time until the warehouse holds it.
worst=0
for sample in 1 2 3 4 5; do
  sleep 1.5
  v=$(lake_version "$work/lake2" enriched_data 2>/dev/null || echo -1)
  [ "$v" -ge 1 ] || continue
  start=$(date +%s.%N)
  until [ "$(loaded_version follow enriched_data)" -ge "$v" ]; do
    now=$(date +%s.%N)
    if awk -v a="$start" -v b="$now" 'BEGIN { exit !(b - a > 5) }'; then
      echo "FAIL: lake version $v of enriched_data not in the warehouse within 5 s"; cat "$work/follow.log"; exit 1
    fi
    sleep 0.1
  done
  lat=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
  echo "follow: lake version $v in the warehouse after ${lat}s"
done
# PostgreSQL goes away for a while and comes back; the loader waits and resumes.
"$src/scripts/postgres.sh" stop-server
sleep 3
eval "$("$src/scripts/postgres.sh" start)"
wait "$run_pid"
want=$(lake_version "$work/lake2" enriched_data)
for _ in $(seq 1 120); do
  [ "$(loaded_version follow enriched_data)" -ge "$want" ] && break
  sleep 0.5
done
kill -TERM "$follow_pid"; wait "$follow_pid" || true
grep -q "retrying" "$work/follow.log" || { echo "FAIL: the loader never noticed PostgreSQL was down"; cat "$work/follow.log"; exit 1; }
compare "$work/lake2" enriched_data follow
echo "PASS"
