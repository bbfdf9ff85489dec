#!/usr/bin/env bash
# smartcity stream reading topics written by a transactional producer (Kafka transactions, committed
# and aborted), against a real Apache Kafka (scripts/kafka.sh).
#
# tests/e2e/txn_producer.py (confluent-kafka with a `transactional.id`) writes the simulator's
# events in committed transactions, with aborted transactions of poisoned copies in between, and
# ends every partition of every topic with an aborted transaction: every partition's last offsets
# are aborted records and an abort marker, and partitions of the sparse emergency topic that got no
# committed event hold nothing else. Proves:
#  - `stream --stop-when-idle` stops (the markers are not unread records), and its progress lines
#    end at lag 0;
#  - without --final, every partition group has emitted enriched rows up to its watermark (an input
#    whose last write was a marker does not hold its group back);
#  - a second run with --final completes the lake: enriched_data equals the SPEC join over the raw
#    tables (tests/e2e/lake_check.py: deltalake + DuckDB), no raw table holds a record twice, and
#    raw rows + dead letters per topic equal the committed events;
#  - no aborted record is in any table.
#
# Usage: tests/e2e/stream_transactions.sh path/to/smartcity
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bin=$(realpath "${1:?usage: stream_transactions.sh path/to/smartcity}")
workdir txn
python_env
partitions=4

start_kafka "$work/kafka"
echo "# Kafka at $bootstrap"
"$bin" topics create --partitions "$partitions" >/dev/null

# Few incidents: the emergency topic is sparse, some of its partitions get no committed event.
"$bin" simulate --duration 15m --vehicles 12 --seed 5 --incident-rate 0.5 --format tsv \
  -o "$work/events.tsv" -q
"$PY" "$root/tests/e2e/txn_producer.py" "$bootstrap" "$work/events.tsv" "$partitions" "$work/txn.json" ||
  fail "the transactional producer failed"
"$PY" - "$work/txn.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
print(f"# committed {sum(j['committed'].values())} events, aborted {sum(j['aborted'].values())}; "
      f"transactions: {j['transactions']}")
PY

# An input that has read everything stops holding its group back after the idle timeout (5 s); one
# with unread records holds it back whatever the time (the backlog rule, src/stream/watermark.h).
# Markers counted as unread records would hold a group back for good.
common=(--no-serve --group txn --lake "$work/lake" --trigger 1s)

# ---- 1. a bounded run stops, and no group is held back ------------------------------------------
rc=0
# Idle for longer than the idle timeout: the watermarks have moved to the newest events by then.
timeout -k 10 180 "$bin" stream "${common[@]}" --stop-when-idle 8s --summary-json "$work/first.json" \
  >"$work/first.log" 2>&1 || rc=$?
[ "$rc" = 0 ] || fail "stream --stop-when-idle did not stop by itself (exit $rc): $(tail -5 "$work/first.log")"
grep -q '"stopped": "idle"' "$work/first.json" || fail "the run did not stop idle: $(cat "$work/first.json")"
ok "stream --stop-when-idle stops although every partition ends with transaction markers"
last=$(grep '^stream |' "$work/first.log" | tail -1)
if [ -n "$last" ]; then
  check "the last progress line shows lag 0 ($last)" grep -q '| lag 0 |' <<<"$last"
fi

"$PY" - "$work/lake" "$partitions" <<'PY' || fail "a partition group was held back"
import sys
import duckdb
from deltalake import DeltaTable
lake, partitions = sys.argv[1], int(sys.argv[2])
con = duckdb.connect()
for t in ["vehicle_data", "weather_data", "emergency_data", "enriched_data"]:
    con.register(t, DeltaTable(f"{lake}/{t}").to_pyarrow_table())
oracle = dict(con.execute(
    "SELECT v._partition, count(*) FROM vehicle_data v JOIN weather_data w "
    "ON w.deviceId = v.deviceId AND w.timestamp = v.timestamp GROUP BY 1").fetchall())
ours = dict(con.execute('SELECT "_vehiclePartition", count(*) FROM enriched_data GROUP BY 1').fetchall())
emergency = dict(con.execute("SELECT _partition, count(*) FROM emergency_data GROUP BY 1").fetchall())
bad = []
for p in range(partitions):
    want, got = oracle.get(p, 0), ours.get(p, 0)
    print(f"# group {p}: {got} of {want} enriched rows before --final; {emergency.get(p, 0)} emergency events")
    # Held back at the start, a group would have emitted nothing; the watermark trails the newest
    # event by 2 minutes of 15, so most rows are out.
    if want == 0 or got < want * 0.6:
        bad.append(f"group {p}: {got} of {want}")
if bad:
    sys.exit("groups held back: " + ", ".join(bad))
PY
ok "without --final every partition group emitted its enriched rows up to the watermark"

# ---- 2. --final completes the join ----------------------------------------------------------------
rc=0
timeout -k 10 180 "$bin" stream "${common[@]}" --stop-when-idle 3s --final -q \
  --summary-json "$work/final.json" >"$work/final.log" 2>&1 || rc=$?
[ "$rc" = 0 ] || fail "stream --stop-when-idle --final failed or did not stop (exit $rc): $(tail -5 "$work/final.log")"
"$PY" "$root/tests/e2e/lake_check.py" "$work/lake" --check >/dev/null ||
  fail "enriched_data is not the SPEC join of the raw tables, or records are duplicated"
ok "enriched_data equals the SPEC join over the raw tables; no duplicate input record"

"$PY" - "$work/lake" "$work/txn.json" <<'PY' || fail "aborted records reached the lake, or committed ones are missing"
import json, sys
import duckdb
from deltalake import DeltaTable
lake, txn = sys.argv[1], json.load(open(sys.argv[2]))
con = duckdb.connect()
bad = []
tables = ["vehicle_data", "gps_data", "traffic_data", "weather_data", "emergency_data", "enriched_data",
          "_dead_letters", "_late_events"]
for t in tables:
    con.register(t, DeltaTable(f"{lake}/{t}").to_pyarrow_table())
    n = con.execute(f'SELECT count(*) FROM "{t}" r WHERE CAST(r AS VARCHAR) LIKE \'%ABORTED%\'').fetchone()[0]
    if n:
        bad.append(f"{t}: {n} rows from aborted transactions")
dead = dict(con.execute("SELECT topic, count(*) FROM _dead_letters GROUP BY 1").fetchall())
for topic, want in txn["committed"].items():
    rows = con.execute(f'SELECT count(*) FROM "{topic}"').fetchone()[0]
    if rows + dead.get(topic, 0) != want:
        bad.append(f"{topic}: {rows} rows + {dead.get(topic, 0)} dead letters != {want} committed")
if bad:
    sys.exit("\n".join(bad))
print(f"# no aborted record in any table; raw rows + dead letters == committed events per topic")
PY
ok "no aborted record is in any table; every committed event is in its raw table or _dead_letters"

finish
