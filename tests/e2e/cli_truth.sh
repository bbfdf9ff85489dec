#!/usr/bin/env bash
# Every command tells the truth (issue 18): what `run`, `load` and `sql` say and their exit status
# match what they did. A finished run started again says so and adds no Delta version; a second
# `run` on a lake a running process owns is refused at once; `load` of a folder that is no lake, of
# a table the lake lacks, or into a warehouse that cannot exist fails before creating anything; a
# damaged Delta log entry is named (load loads the healthy tables); `run` has --summary-json with
# the injected faults, -q and SMARTCITY_LAKE; a malformed PostgreSQL connection string is refused at
# once; `run` with an unreachable PostgreSQL retries it for as long as it runs, shows it (progress
# line, live view, /metrics) and exits 1.
# Usage: tests/e2e/cli_truth.sh path/to/smartcity
set -uo pipefail
. "$(dirname "$0")/lib.sh"
bin=${1:?usage: cli_truth.sh path/to/smartcity}
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
workdir
cd "$work"
unset SMARTCITY_CONFIG SMARTCITY_LAKE SMARTCITY_WAREHOUSE
city=(--duration 10m --start 2026-01-05T00:00:00Z --vehicles 5 --seed 17 --speedup max --no-serve)
versions() { find "$1" -path '*/_delta_log/*.json' | wc -l; }

# ---- a finished run started again: "already complete", no new version --------------------------
run_status rc "$bin" run "${city[@]}" --lake lake --fault duplicate=0.05 --summary-json first.json \
  >run1.out 2>run1.err
check "run exits 0" test "$rc" = 0
grep -q "faults injected: duplicate=" run1.err || not_ok "run's summary shows the injected faults: $(cat run1.err)"
python3 -c 'import json,sys; j=json.load(open("first.json")); sys.exit(0 if j["faults"]["duplicate"] > 0 and j["records"] > 0 and j["rows"]["enriched_data"] > 0 else 1)' &&
  ok "run --summary-json writes records, rows and fault counts" || not_ok "run --summary-json: $(cat first.json)"
before=$(versions lake)
run_status rc "$bin" run "${city[@]}" --lake lake --fault duplicate=0.05 --summary-json again.json \
  >run2.out 2>run2.err
check "the same run again exits 0" test "$rc" = 0
grep -q "run: already complete" run2.err && ok "the same run again says it is already complete" ||
  not_ok "no 'already complete': $(cat run2.err)"
check "the same run again adds no Delta version ($before before)" test "$(versions lake)" = "$before"
python3 -c 'import json,sys; sys.exit(0 if json.load(open("again.json"))["already_complete"] else 1)' ||
  not_ok "summary json: already_complete"

# ---- -q and SMARTCITY_LAKE -------------------------------------------------------------------
SMARTCITY_LAKE="$work/envlake" run_status rc "$bin" run "${city[@]}" -q --warehouse none >q.out 2>q.err
check "run -q exits 0 and prints nothing" test "$rc" = 0 -a ! -s q.out -a ! -s q.err
check "run honours SMARTCITY_LAKE" test -d envlake/enriched_data/_delta_log

# ---- one run per lake: a second run or a stream is refused at once ---------------------------
"$bin" run --duration 2h --vehicles 5 --no-serve -q --warehouse none --lake busy >busy.log 2>&1 &
busy=$!
track "$busy"
wait_for 20 test -s busy/_smartcity.lock || fail "the first run did not take the lake's lock"
start=$SECONDS
run_status rc "$bin" run "${city[@]}" --lake busy --warehouse none >second.out 2>second.err
check "a second run on a busy lake exits 1 at once" test "$rc" = 1 -a $((SECONDS - start)) -lt 5
grep -q "the lake busy is in use by \`run\` (pid $busy)" second.err && ok "it names the owner" ||
  not_ok "second run: $(cat second.err)"
run_status rc "$bin" stream --lake busy --no-serve >stream.out 2>stream.err
check "a stream on a lake a run owns exits 1 at once" test "$rc" = 1
grep -q "is in use by \`run\`" stream.err || not_ok "stream: $(cat stream.err)"
run_status rc "$bin" crawl --lake busy --dry-run >crawl.out 2>crawl.err
check "a reader (crawl) takes no lock: it reads the lake a run owns" test "$rc" = 0
kill "$busy"; wait "$busy" 2>/dev/null

# ---- load: no lake, no table, no warehouse: an error, and nothing created --------------------
mkdir nolake
run_status rc "$bin" load --lake nolake --once >load1.out 2>load1.err
check "load of a folder that is no lake exits 2" test "$rc" = 2
check "... and creates nothing" test -z "$(ls -A nolake)" -a ! -e nolake-warehouse.duckdb
run_status rc "$bin" load --lake missing --once >load2.out 2>load2.err
check "load of a lake that does not exist exits 2 and creates it not" test "$rc" = 2 -a ! -e missing
run_status rc "$bin" load --lake lake --once --tables enriched_data,nosuch >load3.out 2>load3.err
check "load --tables nosuch exits 2" test "$rc" = 2
grep -q "has no table nosuch; its tables are" load3.err || not_ok "load nosuch: $(cat load3.err)"
start=$SECONDS
run_status rc "$bin" load --lake lake --once --warehouse "duckdb:$work/no/such/w.duckdb" >load4.out 2>load4.err
check "load into a DuckDB file in a missing folder exits 2 at once" test "$rc" = 2 -a $((SECONDS - start)) -lt 5
echo "not a database" >notdb.duckdb
run_status rc "$bin" load --lake lake --once --warehouse "duckdb:$work/notdb.duckdb" >load5.out 2>load5.err
check "load into a file that is not a DuckDB database exits 2 with one line naming it" \
  test "$rc" = 2 -a "$(wc -l <load5.err)" = 1
grep -q "notdb.duckdb" load5.err || not_ok "load into a non-DuckDB file: $(cat load5.err)"
run_status rc "$bin" run "${city[@]}" --lake lake9 --warehouse foo >run9.out 2>run9.err
check "run --warehouse foo exits 2 before anything starts" test "$rc" = 2 -a ! -e lake9

# ---- a damaged Delta log entry: named, the healthy tables loaded ------------------------------
cp -r lake damaged
echo '{"add": garbage' >damaged/gps_data/_delta_log/00000000000000000001.json
"$bin" crawl --lake damaged >/dev/null 2>&1
run_status rc "$bin" load --lake damaged --once --tables gps_data,enriched_data,vehicle_data \
  --warehouse "duckdb:$work/dmg.duckdb" >load5.out 2>load5.err
check "load with a damaged table exits 1" test "$rc" = 1
grep -q "cannot load gps_data: .*gps_data/_delta_log/00000000000000000001.json.*the other tables were loaded.*restore" load5.err &&
  ok "load names the damaged object and the fix" || not_ok "load damaged: $(cat load5.err)"
grep -q "enriched_data .* rows, 1 versions" load5.err && grep -q "vehicle_data .* rows" load5.err &&
  ok "load loaded the healthy tables" || not_ok "healthy tables not loaded: $(cat load5.err)"
run_status rc "$bin" sql --lake damaged "SELECT count(*) FROM gps_data" >sql.out 2>sql.err
check "sql on the damaged table exits 1" test "$rc" = 1
grep -q "table gps_data is cataloged but cannot be read: .*00000000000000000001.json" sql.err &&
  ok "sql names the damaged object" || not_ok "sql damaged: $(cat sql.err)"
# ---- a malformed PostgreSQL connection string: refused at once, never retried ----------------
start=$SECONDS
run_status rc "$bin" load --lake lake --once --warehouse 'postgres://etl@[db/city' >pgbad.out 2>pgbad.err
check "load with a malformed connection string exits 2 at once" test "$rc" = 2 -a $((SECONDS - start)) -lt 5
grep -q "retrying" pgbad.err && not_ok "a malformed connection string was retried: $(cat pgbad.err)"
grep -q "connection string is malformed" pgbad.err && ok "it says the connection string is malformed" ||
  not_ok "load malformed: $(cat pgbad.err)"
run_status rc "$bin" run "${city[@]}" --lake lake10 --warehouse 'postgresql://etl@db/city?nosuch=1' \
  >run10.out 2>run10.err
check "run with a malformed connection string exits 2 before anything starts" test "$rc" = 2 -a ! -e lake10

# ---- run with an unreachable PostgreSQL: retried while the run lasts, visible, exit 1 ---------
# The run lasts longer than the final pass's 30 s budget: a follower that gave up after a budget
# (it did after ~25 s) would show up as stopped, or up, at 38 s.
pgport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin" run --duration 45s --start 2026-01-05T08:00:00Z --vehicles 2 --seed 17 --speedup 1 \
  --trigger 1s --listen 127.0.0.1:0 --lake pglake --warehouse "postgresql://etl@127.0.0.1:$pgport/city" \
  >pg.out 2>pg.err &
pg_run=$!
track "$pg_run"
wait_for 20 grep -q "live view at http://" pg.err || fail "run did not serve its live view: $(cat pg.err)"
url=$(sed -n 's|.*live view at \(http://[^/ ]*\)/.*|\1|p' pg.err | head -1)
sleep 38
curl -s "$url/metrics" >pg.metrics
curl -s "$url/api/status" >pg.status
grep -qx "smartcity_warehouse_up 0" pg.metrics && grep -qx 'smartcity_alert_active{kind="warehouse"} 1' pg.metrics &&
  ok "at 38 s /metrics says the warehouse is down and alerts" || not_ok "/metrics at 38 s: $(grep -E 'warehouse|alert' pg.metrics)"
python3 -c 'import json,sys; w=json.load(open("pg.status"))["warehouse"]; sys.exit(0 if w and w["retrying"] and not w["error"] else 1)' &&
  ok "at 38 s the live view shows the loader retrying, not stopped" || not_ok "/api/status at 38 s: $(cat pg.status)"
grep -q "^run: the warehouse loader stopped" pg.err && not_ok "the follower gave up during the run: $(cat pg.err)"
run_status rc wait "$pg_run"
check "run with an unreachable warehouse exits 1" test "$rc" = 1
grep -q "warehouse lag .*(retrying: " pg.err && ok "the progress line shows the retries" ||
  not_ok "no retries on the progress line: $(cat pg.err)"
grep -q "^smartcity: the warehouse loader failed: .*smartcity load --lake pglake" pg.err &&
  ok "run's last line names the problem and the fix" || not_ok "run's end: $(tail -3 pg.err)"
finish
