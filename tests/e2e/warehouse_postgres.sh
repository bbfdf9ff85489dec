#!/usr/bin/env bash
# smartcity load into a real PostgreSQL (Debian's package, started on loopback by scripts/postgres.sh
# and stopped at the end):
#   1. after a seeded run, each loaded table equals the lake table row for row (deltalake reader);
#   2. the loader killed with kill -9 at 12 random moments mid-load and restarted ends with exactly
#      the lake's rows; PostgreSQL stopped and restarted while `load --follow` runs: the same;
#   1b. a database or a role that does not exist fails at once (no retries);
#   3. --follow: rows committed to the lake appear in the warehouse within 5 s;
#   4. `run` following into PostgreSQL, stopped by SIGINT mid-run (paced): the warehouse equals the
#      lake; a wrong password, or PostgreSQL stopped mid-run and not back within the final pass's
#      retries: `run` exits 1 with one message naming the problem and the fix.
# Schema evolution against PostgreSQL is in src/warehouse/warehouse_itest.cc.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
smartcity=$(realpath "$1")
workdir warehouse-postgres
chmod 755 "$work"  # the server runs as the postgres user when we are root: it must reach its folder
export SMARTCITY_PG_DIR="$work/pg"
start_postgres
python_env
compare() {  # compare <lake> <table> <db>
  PGDATABASE=$3 "$PY" "$root/tests/e2e/warehouse_compare.py" "$1" "$2" postgres
}
url() { echo "postgresql://$PGUSER@127.0.0.1:$PGPORT/$1"; }
loaded_version() {  # loaded_version <db> <table>
  psql -X -qAt -d "$1" -c "SELECT coalesce(max(delta_version), -1) FROM _smartcity_loads WHERE table_name = '$2'" 2>/dev/null || echo -1
}
lake_version() { "$PY" "$root/tests/e2e/lake_versions.py" "$1" "$2" | cut -d' ' -f1; }
# The newest version that adds rows: a follower's bookkeeping reaches it (versions without rows
# after it are recorded only when the loader settles, at a stop).
rows_version() { "$PY" "$root/tests/e2e/lake_versions.py" "$1" "$2" | cut -d' ' -f2; }

# --- 1. seeded run, then load --once: row for row -----------------------------------------------
opts=(--no-serve --duration 20m --vehicles 30 --incident-rate 6 --seed 7 --fault duplicate=0.01 --fault malformed=0.005)
"$smartcity" run "${opts[@]}" --speedup max --lake "$work/lake" --trigger 100ms --warehouse none -q
echo "lake: enriched_data at version $(lake_version "$work/lake" enriched_data)"
createdb seeded
tables=enriched_data,vehicle_data,weather_data,emergency_data,_dead_letters
"$smartcity" load --once --lake "$work/lake" --warehouse "$(url seeded)" --tables "$tables"
for t in ${tables//,/ }; do compare "$work/lake" "$t" seeded; done
# A second --once loads nothing new and changes nothing.
"$smartcity" load --once -q --lake "$work/lake" --warehouse "$(url seeded)" --tables "$tables"
compare "$work/lake" enriched_data seeded
psql -X -qAt -d seeded -c "SELECT data_type FROM information_schema.columns WHERE table_name='enriched_data' AND column_name='timestamp_'" | grep -qx 'timestamp with time zone' \
  || fail "timestamp_ is not timestamptz"
# The columns a BI user types, unquoted (PostgreSQL folds them to lower case): every column of
# every loaded table, by the names docs/warehouse.md gives them.
for t in ${tables//,/ }; do
  cols=$(psql -X -qAt -d seeded -c "SELECT string_agg(column_name, ', ' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_name='$t'")
  case "$cols" in *[A-Z\"]*) fail "$t has a column that needs quotes: $cols" ;; esac
  psql -X -qAt -v ON_ERROR_STOP=1 -d seeded -c "SELECT $cols FROM $t LIMIT 1" >/dev/null \
    || fail "$t: SELECT $cols (unquoted) failed"
done
psql -X -qAt -v ON_ERROR_STOP=1 -d seeded -c "SELECT device_id, timestamp_, weather_condition, air_quality_index FROM enriched_data LIMIT 1" >/dev/null \
  || fail "the enriched columns are not usable unquoted"
psql -X -qAt -d seeded -c "SELECT count(*) FROM pg_indexes WHERE tablename='enriched_data'" | awk '$1 < 3 { exit 1 }' \
  || fail "expected a primary key and indexes on enriched_data"
ok "load --once: every table equals the lake, a second --once changes nothing; timestamptz, key and indexes; every column usable unquoted"

# --- 1a. a warehouse loaded before the warehouse names: it keeps loading, --rename-columns migrates --
createdb old
# The old loader's table: the lake's names, quoted (the columns of a data file, then the partition
# column).
"$PY" - "$work/lake" >"$work/old.sql" <<'EOF'
import glob
import sys
import pyarrow as pa
import pyarrow.parquet as pq
schema = pq.read_schema(sorted(glob.glob(f"{sys.argv[1]}/enriched_data/*/*.parquet"))[0])
types = {"string": "TEXT", "int32": "INTEGER", "int64": "BIGINT", "double": "DOUBLE PRECISION",
         "bool": "BOOLEAN"}
cols = []
for f in schema:
    t = "TIMESTAMPTZ" if pa.types.is_timestamp(f.type) else types[str(f.type)]
    cols.append(f'"{f.name}" {t}')
cols.append('"date" TEXT')
print(f'CREATE TABLE "enriched_data" ({", ".join(cols)});')
print('CREATE INDEX "enriched_data_deviceId_idx" ON "enriched_data" ("deviceId");')
EOF
psql -X -q -v ON_ERROR_STOP=1 -d old -f "$work/old.sql"
"$smartcity" load --once --lake "$work/lake" --warehouse "$(url old)" >"$work/old.log" 2>&1 \
  || { cat "$work/old.log" >&2; fail "load into a lake-named table failed"; }
expect_in "$work/old.log" "--rename-columns"
compare "$work/lake" enriched_data old
psql -X -qAt -d old -c 'SELECT count("deviceId") FROM enriched_data' >/dev/null || fail "old names gone without --rename-columns"
"$smartcity" load --once --rename-columns --lake "$work/lake" --warehouse "$(url old)" >"$work/old.log" 2>&1 \
  || { cat "$work/old.log" >&2; fail "load --rename-columns failed"; }
expect_in "$work/old.log" '"deviceId" -> device_id'
compare "$work/lake" enriched_data old
psql -X -qAt -v ON_ERROR_STOP=1 -d old -c "SELECT device_id, timestamp_, weather_condition FROM enriched_data LIMIT 1" >/dev/null \
  || fail "columns not renamed"
psql -X -qAt -d old -c "SELECT indexname FROM pg_indexes WHERE tablename='enriched_data'" | grep -qx enriched_data_device_id_idx \
  || fail "the index on deviceId was not renamed"
ok "a table with the lake's column names keeps loading (with a notice); load --rename-columns renames its columns and index once, rows unchanged"

# --- 1b. what no retry fixes stops at once (not 10 minutes of retries): each class ----------------
for target in "$(url no_such_database)" "postgresql://no_such_role@127.0.0.1:$PGPORT/seeded"; do
  start=$SECONDS
  run_status rc "$smartcity" load --once --lake "$work/lake" --warehouse "$target" >"$work/perm.log" 2>&1
  [ "$rc" = 2 ] && [ $((SECONDS - start)) -lt 10 ] ||
    { cat "$work/perm.log" >&2; fail "load into $target exited $rc after $((SECONDS - start)) s, want 2 at once"; }
  expect_in "$work/perm.log" "does not exist"
  grep -q "retrying" "$work/perm.log" && { cat "$work/perm.log" >&2; fail "load into $target retried"; }
done
ok "a database or a role that does not exist: load exits 2 at once, without retries"

# --- 2a. kill -9 at 12 random moments of a load, each followed by a restart -----------------------
# Each trial loads the lake into an empty database, kills the loader at a random moment within the
# time a whole load takes, restarts it and checks the table holds exactly the lake's rows (count
# plus the UNIQUE key, which cannot hold a duplicate) and the bookkeeping the lake's version.
# The kills fall within the fastest of three whole loads (a slow first one would put them after
# the end of a faster load).
full_ms=
for _ in 1 2 3; do
  dropdb --if-exists timing 2>/dev/null; createdb timing
  t0=$(date +%s%N)
  "$smartcity" load --once -q --lake "$work/lake" --warehouse "$(url timing)" --rows-per-transaction 1
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  if [ -z "$full_ms" ] || [ "$ms" -lt "$full_ms" ]; then full_ms=$ms; fi
done
want_rows=$(psql -X -qAt -d timing -c "SELECT count(*) FROM enriched_data")
want_version=$(lake_version "$work/lake" enriched_data)
echo "a whole load: ${full_ms} ms, $want_rows rows, versions 0..$want_version"
landed=0; partial=0
for i in $(seq 1 12); do
  dropdb --if-exists killed 2>/dev/null; createdb killed
  "$smartcity" load --once -q --lake "$work/lake" --warehouse "$(url killed)" --rows-per-transaction 1 &
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
  at=$(loaded_version killed enriched_data)
  if [ "$at" -ge 0 ] && [ "$at" -lt "$want_version" ]; then partial=$((partial + 1)); fi
  "$smartcity" load --once -q --lake "$work/lake" --warehouse "$(url killed)"
  got_rows=$(psql -X -qAt -d killed -c "SELECT count(*) FROM enriched_data")
  got_version=$(loaded_version killed enriched_data)
  [ "$got_rows" = "$want_rows" ] && [ "$got_version" = "$want_version" ] ||
    fail "after kill $i (at version $at): $got_rows rows at version $got_version, want $want_rows at $want_version"
done
[ "$landed" -ge 10 ] || fail "only $landed of 12 kills hit a running loader"
compare "$work/lake" enriched_data killed
ok "kill -9 landed mid-load $landed of 12 times ($partial with some versions committed); every restart ended exact"

# --- 2b + 3. load --follow while the lake grows; PostgreSQL restarted mid-run ---------------------
createdb follow
"$smartcity" load --follow --lake "$work/lake2" --warehouse "$(url follow)" --tables enriched_data \
  >"$work/follow.log" 2>&1 &
follow_pid=$!
track "$follow_pid"
"$smartcity" run --no-serve --duration 30m --vehicles 20 --seed 3 --speedup 60 --lake "$work/lake2" --trigger 1s --warehouse none -q &
run_pid=$!
track "$run_pid"
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
      cat "$work/follow.log" >&2; fail "lake version $v of enriched_data not in the warehouse within 5 s"
    fi
    sleep 0.1
  done
  lat=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
  echo "follow: lake version $v in the warehouse after ${lat}s"
done
# PostgreSQL goes away for a while and comes back; the loader waits and resumes.
"$root/scripts/postgres.sh" stop-server
sleep 3
eval "$("$root/scripts/postgres.sh" start)"
wait "$run_pid"
want=$(rows_version "$work/lake2" enriched_data)
caught_up() { [ "$(loaded_version follow enriched_data)" -ge "$want" ]; }
wait_for 60 caught_up || { cat "$work/follow.log" >&2; fail "the follower did not load lake version $want within 60 s"; }
kill -TERM "$follow_pid"
run_status rc wait "$follow_pid"
[ "$rc" = 0 ] || { cat "$work/follow.log" >&2; fail "load --follow exited $rc after SIGTERM"; }
grep -q "retrying" "$work/follow.log" || { cat "$work/follow.log" >&2; fail "the loader never noticed PostgreSQL was down"; }
compare "$work/lake2" enriched_data follow
ok "--follow: sampled lake versions in the warehouse within 5 s; PostgreSQL restarted mid-run; equal to the lake"

# --- 4a. run's follower into PostgreSQL, SIGINT mid-run -----------------------------------------
paced=(--no-serve --vehicles 20 --speedup 60 --trigger 500ms)
createdb runwh
"$smartcity" run "${paced[@]}" --duration 30m --seed 13 --lake "$work/lake4" --warehouse "$(url runwh)" \
  --maintenance-interval 200ms --max-small-files 2 >"$work/run4.log" 2>&1 &
run_pid=$!
track "$run_pid"
loaded_some() { [ "$(loaded_version runwh enriched_data)" -ge 3 ]; }
wait_for 30 loaded_some || { cat "$work/run4.log" >&2; fail "run's follower loaded nothing into PostgreSQL"; }
sleep 2
kill -INT "$run_pid"
run_status rc wait "$run_pid"
[ "$rc" = 0 ] || { cat "$work/run4.log" >&2; fail "run exited $rc after SIGINT"; }
expect_in "$work/run4.log" "run: stopped on request"
grep -Eq '^  warehouse: [0-9]+ rows loaded into .*; warehouse lag 0 commits$' "$work/run4.log" ||
  { cat "$work/run4.log" >&2; fail "run's summary does not show the warehouse caught up"; }
compare "$work/lake4" enriched_data runwh
v=$(lake_version "$work/lake4" enriched_data)
[ "$(loaded_version runwh enriched_data)" = "$v" ] || fail "the bookkeeping is not at the lake's version $v"
empty=$(psql -X -qAt -d runwh -c "SELECT count(*) FROM _smartcity_loads WHERE row_count = 0")
[ "$empty" -le 1 ] || fail "$empty load transactions without rows"
ok "run into PostgreSQL, SIGINT mid-run: the warehouse equals the lake at version $v; no transaction without rows"

# --- 4b. a wrong password: run goes on, then exits 1 naming the problem and the fix -------------
psql -X -q -c "CREATE ROLE pwuser LOGIN PASSWORD 'right'" -c "GRANT ALL ON DATABASE runwh TO pwuser"
hba=$(psql -X -qAt -c "SHOW hba_file")
cp "$hba" "$work/pg_hba.conf.orig"
{ echo "host all pwuser 127.0.0.1/32 scram-sha-256"; cat "$work/pg_hba.conf.orig"; } >"$hba"
psql -X -qAt -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
run_status rc "$smartcity" run "${paced[@]}" --duration 5m --seed 13 --lake "$work/lake5" \
  --warehouse "postgresql://pwuser:wrong@127.0.0.1:$PGPORT/runwh" >"$work/run5.log" 2>&1
[ "$rc" = 1 ] || { cat "$work/run5.log" >&2; fail "run with a wrong warehouse password exited $rc, want 1"; }
expect_in "$work/run5.log" "smartcity: the warehouse loader failed"
expect_in "$work/run5.log" "rejected the credentials"
expect_in "$work/run5.log" "smartcity load --lake $work/lake5"
[ "$(grep -c '^smartcity: ' "$work/run5.log")" = 1 ] || { cat "$work/run5.log" >&2; fail "more than one final error message"; }
expect_in "$work/run5.log" "run summary:"  # the pipeline went on
ok "a wrong warehouse password: run finished the pipeline, exited 1 with one message naming the fix"

# --- 4c. PostgreSQL stopped mid-run and not back: exit 1 after the final pass's retries ---------
createdb gone
"$smartcity" run "${paced[@]}" --duration 10m --seed 13 --lake "$work/lake6" --warehouse "$(url gone)" \
  >"$work/run6.log" 2>&1 &
run_pid=$!
track "$run_pid"
loaded_gone() { [ "$(loaded_version gone enriched_data)" -ge 1 ]; }
wait_for 30 loaded_gone || { cat "$work/run6.log" >&2; fail "run's follower loaded nothing into PostgreSQL"; }
"$root/scripts/postgres.sh" stop-server
run_status rc wait "$run_pid"
eval "$("$root/scripts/postgres.sh" start)"
[ "$rc" = 1 ] || { cat "$work/run6.log" >&2; fail "run with PostgreSQL gone exited $rc, want 1"; }
grep -q "warehouse lag .*(retrying: " "$work/run6.log" || { cat "$work/run6.log" >&2; fail "the progress line did not show the retries"; }
expect_in "$work/run6.log" "smartcity: the warehouse loader failed"
expect_in "$work/run6.log" "smartcity load --lake $work/lake6"
# The fix works: load catches the warehouse up.
"$smartcity" load --once -q --lake "$work/lake6" --warehouse "$(url gone)"
compare "$work/lake6" enriched_data gone
ok "PostgreSQL gone mid-run: run exited 1 naming the fix; load then caught the warehouse up"
finish
