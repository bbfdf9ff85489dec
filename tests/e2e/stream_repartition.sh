#!/usr/bin/env bash
# Keys that are not the device id (docs/kafka_source.md; issue 17, point 1): the seeds' own
# producer (tests/e2e/seed_producer.py: Python confluent_kafka, key = the event's id, librdkafka's
# default partitioner) spreads every vehicle's events over all six partitions. Two `stream`
# members in one group process them while the producer writes; one is killed (SIGKILL, at a crash
# point: before the first lake commit of an epoch, after its offsets log, so it had forwarded that
# epoch's misplaced records but committed or staged nothing) and restarted, and forwards them again. The lake
# must then equal a clean co-partitioned run of the same events:
#  - every raw table holds each produced record exactly once (count, distinct ids), no dead letter;
#  - enriched_data equals the SPEC join computed by DuckDB over the raw tables, row for row, and
#    holds one row per vehicle record (each has its weather record at the same timestamp);
#  - records were forwarded, and the re-forwarded ones were dropped as duplicates.
# Then a backfill of the same topics with --stop-at-end (one member, a new group) must give the same
# lake (tests/e2e/lake_digest.py) and stop by itself once it has read back what it forwarded.
#
# Usage: tests/e2e/stream_repartition.sh path/to/smartcity
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bin=$(realpath "${1:?usage: stream_repartition.sh path/to/smartcity}")
workdir repart
python_env

start_kafka "$work/kafka"
echo "# Kafka at $bootstrap"
"$bin" topics create --partitions 6 >/dev/null
"$PY" "$root/tests/e2e/seed_producer.py" "$bootstrap" 20 1 6 >"$work/produced1.json"

# Dynamic members (they leave the group when they stop); a short session so the group gets on
# without the killed one quickly. A week of watermark delay: a forwarded record may arrive after
# records of its group read directly have moved the watermark (docs/kafka_source.md, "Lateness"),
# and this test compares with the batch join over everything.
member=(stream --group repart --no-serve --lake "$work/lake" --trigger 1s --idle-timeout 1h
  --watermark-delay 7d --session-timeout 6s)
# The last progress line of log $1 shows $2 partition groups.
owns() { tail -n 1 "$1" 2>/dev/null | grep -Eq "\| $2 partition groups \|"; }

"$bin" "${member[@]}" --stop-when-idle 4s --summary-json "$work/a.json" >"$work/a.log" 2>&1 &
a=$!; track "$a"
# Once armed, B kills itself (SIGKILL) just before its next commit to vehicle_data: before its log
# put, or before it stages the commit when it sees A committing too (group commit): a staged commit
# A would take, and B would then forward nothing again.
(SMARTCITY_CRASH_ARM="$work/arm" SMARTCITY_CRASH_POINT="put|put-if-absent:vehicle_data/_staged/|vehicle_data/_delta_log/0:1" \
  exec "$bin" "${member[@]}" --stop-when-idle 4s >"$work/b1.log" 2>&1) &
b=$!; track "$b"
wait_for 40 owns "$work/a.log" 3 && wait_for 20 owns "$work/b1.log" 3 ||
  fail "the members never shared the partitions: A: $(tail -2 "$work/a.log"); B: $(tail -2 "$work/b1.log")"
# The producer writes in five runs, about two seconds in all: every epoch of B from the arming on
# reads (and forwards) some of it.
for n in 2 3 4 5 6; do
  "$PY" "$root/tests/e2e/seed_producer.py" "$bootstrap" 8 "$n" 6 >"$work/produced$n.json"
  [ "$n" != 2 ] || touch "$work/arm"
done
rc=0; wait "$b" || rc=$?
[ "$rc" = 137 ] && grep -q "crash point .* fired" "$work/b1.log" ||
  fail "member B did not die at its crash point (exit $rc): $(tail -3 "$work/b1.log")"
ok "member B killed (SIGKILL) after writing an epoch's offsets log, before its lake commit"
"$bin" "${member[@]}" --stop-when-idle 4s --summary-json "$work/b2.json" >"$work/b2.log" 2>&1 &
b=$!; track "$b"
wait "$a" || fail "member A failed: $(tail -3 "$work/a.log")"
wait "$b" || fail "member B (restarted) failed: $(tail -3 "$work/b2.log")"
# The input is complete: one member takes every group, reads what is left and flushes the join.
"$bin" "${member[@]}" --stop-when-idle 2s --final --summary-json "$work/final.json" \
  >"$work/final.log" 2>&1 || fail "the final run failed: $(tail -3 "$work/final.log")"

"$PY" - "$work" <<'PY' || fail "the lake is not what a co-partitioned run gives"
import json, sys
import duckdb
from deltalake import DeltaTable
work = sys.argv[1]
produced = {}
for n in range(1, 7):
    for topic, count in json.load(open(f"{work}/produced{n}.json"))["delivered"].items():
        produced[topic] = produced.get(topic, 0) + count
con = duckdb.connect()
def table(name):
    try:
        con.register(name, DeltaTable(f"{work}/lake/{name}").to_pyarrow_table())
    except Exception:  # a table nothing was written to
        con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT NULL::VARCHAR AS id WHERE false")
    return con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
bad = []
for topic, n in sorted(produced.items()):
    got = table(topic)
    distinct = con.execute(f"SELECT count(DISTINCT id) FROM {topic}").fetchone()[0]
    parts = con.execute(f"SELECT count(DISTINCT _partition) FROM {topic}").fetchone()[0]
    print(f"{topic}: {got} rows ({distinct} distinct ids, from {parts} partitions) of {n} produced")
    if got != n or distinct != n:
        bad.append(f"{topic}: {got} rows, {distinct} distinct ids, {n} produced")
for t in ("_dead_letters", "_late_events"):
    if table(t):
        bad.append(f"{t} holds {table(t)} rows")
table("enriched_data")
# The SPEC join (J = 0: equal timestamps), over the raw tables.
con.execute("""
CREATE TABLE expected AS
SELECT v.deviceId, v.timestamp, v.speed, w.temperature, w.weatherCondition,
       e.type AS emergencyType, e.status AS emergencyStatus, e.incidentId
FROM vehicle_data v
JOIN weather_data w ON w.deviceId = v.deviceId AND w.timestamp = v.timestamp
LEFT JOIN (SELECT * FROM emergency_data WHERE type <> 'None') e
  ON e.deviceId = v.deviceId AND e.timestamp = v.timestamp""")
con.execute("""CREATE TABLE got AS SELECT deviceId, timestamp, speed, temperature, weatherCondition,
  emergencyType, emergencyStatus, incidentId FROM enriched_data""")
expected = con.execute("SELECT count(*) FROM expected").fetchone()[0]
got = con.execute("SELECT count(*) FROM got").fetchone()[0]
missing = con.execute("SELECT count(*) FROM (SELECT * FROM expected EXCEPT ALL SELECT * FROM got)").fetchone()[0]
extra = con.execute("SELECT count(*) FROM (SELECT * FROM got EXCEPT ALL SELECT * FROM expected)").fetchone()[0]
devices = con.execute("SELECT count(DISTINCT deviceId) FROM got").fetchone()[0]
print(f"enriched_data: {got} rows for {devices} vehicles; the SPEC join over the raw tables: {expected}; "
      f"missing {missing}, extra {extra}")
if missing or extra or got != expected or expected != produced["vehicle_data"]:
    bad.append(f"enriched_data: {got} rows, SPEC join {expected} ({missing} missing, {extra} extra), "
               f"{produced['vehicle_data']} vehicle records")
summaries = [json.load(open(f"{work}/{n}.json")) for n in ("a", "b2", "final")]
forwarded = sum(s["repartition"]["forwarded"] for s in summaries)
duplicates = sum(s["repartition"]["duplicates"] for s in summaries)
print(f"forwarded {forwarded} records (A, restarted B, final run), dropped {duplicates} re-forwarded duplicates")
if forwarded == 0:
    bad.append("no record was forwarded")
if duplicates == 0:
    bad.append("the killed member's re-forwarded records never showed up as duplicates")
if bad:
    sys.exit("\n".join(bad))
PY
ok "keys by event id, two members, one killed and restarted: raw tables exactly once, enriched_data equals the SPEC join over them"

# A backfill of the same topics (--stop-at-end) by one member of a new group, whose repartition
# topics start empty: it reads the inputs up to their ends at start, forwards the misplaced records,
# reads them back up to the repartition topics' ends after its flush, and stops with no idle wait.
# Its lake must equal the one above (ending with --stop-when-idle --final), table for table.
"$bin" stream --group repart-end --no-serve --lake "$work/lake_end" --trigger 1s --idle-timeout 1h \
  --watermark-delay 7d --stop-at-end --summary-json "$work/end.json" >"$work/end.log" 2>&1 ||
  fail "the --stop-at-end run failed: $(tail -3 "$work/end.log")"
digest_bin=${SMARTCITY_LAKE_DIGEST:-$(dirname "$bin")/../lake/lake_digest}
"$PY" "$root/tests/e2e/lake_digest.py" "$work/lake" "$digest_bin" >"$work/digest_idle.json" ||
  fail "the lake of the --stop-when-idle runs does not read back"
"$PY" "$root/tests/e2e/lake_digest.py" "$work/lake_end" "$digest_bin" >"$work/digest_end.json" ||
  fail "the lake of the --stop-at-end run does not read back"
cmp -s "$work/digest_idle.json" "$work/digest_end.json" ||
  fail "the --stop-at-end lake differs: $(diff "$work/digest_idle.json" "$work/digest_end.json" | head -20)"
"$PY" - "$work/end.json" <<'PY' || fail "the --stop-at-end run did not read back what it forwarded"
import json, sys
s = json.load(open(sys.argv[1]))
r = s["repartition"]
print(f"--stop-at-end: {s['records']} records, forwarded {r['forwarded']}, received {r['received']}, "
      f"stopped: {s['stopped']}")
if s["stopped"] != "end" or r["forwarded"] == 0 or r["received"] != r["forwarded"]:
    sys.exit(f"stopped {s['stopped']!r}, forwarded {r['forwarded']}, received {r['received']}")
PY
ok "--stop-at-end on the backlog, misplaced records forwarded and read back: the same lake as --stop-when-idle --final"

# The group is retired: its three internal topics go, the input topics other groups read stay.
"$bin" topics delete --repartition-group repart >"$work/delete.out" 2>&1 ||
  fail "topics delete --repartition-group: $(cat "$work/delete.out")"
[ "$(grep -c '^deleted repart-repartition-' "$work/delete.out")" = 3 ] && ! grep -qv '^deleted repart-repartition-' "$work/delete.out" ||
  fail "expected the group's 3 repartition topics deleted, nothing else: $(cat "$work/delete.out")"
"$bin" topics describe >"$work/describe.out" 2>&1 || fail "the input topics went too: $(cat "$work/describe.out")"
ok "topics delete --repartition-group deletes the group's repartition topics only"
finish
