#!/usr/bin/env bash
# The seeds' own producer against smartcity stream (SPEC section 3, "Input from any producer"):
# tests/e2e/seed_producer.py writes the five topics as the seed project's Python producer did (float
# airQualityIndex, emergency type "None", naive local timestamps with microseconds, locations as
# arrays, keys = event ids). Every record must land in its raw table, none in `_dead_letters`; the
# float AQI is stored rounded; "None" emergencies are stored but never joined as incidents; every
# vehicle record joins its weather record (same timestamp, as in the seed's Spark job).
#
# Usage: tests/e2e/stream_seed_producer.sh path/to/smartcity
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bin=$(realpath "${1:?usage: stream_seed_producer.sh path/to/smartcity}")
workdir seeds
python_env

start_kafka "$work/kafka"
echo "# Kafka at $bootstrap"
# One partition per topic: the seed keyed its records by event id, so only one partition keeps a
# device's events together for the join (keys that are not the device id: the scale-out issue).
"$bin" topics create --partitions 1 >/dev/null

"$PY" "$root/tests/e2e/seed_producer.py" "$bootstrap" 100 7 >"$work/produced.json"
echo "# produced $(cat "$work/produced.json")"
"$bin" stream --no-serve --lake "$work/lake" --trigger 1s --stop-when-idle 3s --final -q

"$PY" - "$work/lake" "$work/produced.json" <<'PY' || fail "the seeds' records are not all data"
import json, sys
import duckdb
from deltalake import DeltaTable
lake, produced = sys.argv[1], json.load(open(sys.argv[2]))
con = duckdb.connect()
def table(name):
    try:
        con.register(name, DeltaTable(f"{lake}/{name}").to_pyarrow_table())
    except Exception:  # a table nothing was written to
        con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT NULL::VARCHAR AS reason WHERE false")
    return con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
bad = []
for topic, n in produced["delivered"].items():
    got = table(topic)
    print(f"{topic}: {got} rows of {n} produced")
    if got != n:
        bad.append(f"{topic}: {got} rows, {n} produced")
dead = table("_dead_letters")
if dead:
    bad.append(f"{dead} dead letters: {con.execute('SELECT reason FROM _dead_letters LIMIT 3').fetchall()}")
none = con.execute("SELECT count(*) FROM emergency_data WHERE type = 'None'").fetchone()[0]
print(f"emergency_data: {none} records of type None (produced {produced['none_emergencies']})")
if none != produced["none_emergencies"] or none == 0:
    bad.append(f"emergency_data holds {none} 'None' records, {produced['none_emergencies']} produced")
aqi = con.execute("SELECT min(airQualityIndex), max(airQualityIndex), typeof(any_value(airQualityIndex)) "
                  "FROM weather_data").fetchone()
print(f"weather_data.airQualityIndex: {aqi[0]} .. {aqi[1]} ({aqi[2]})")
if not (0 <= aqi[0] <= aqi[1] <= 500) or aqi[2] != "INTEGER":
    bad.append(f"airQualityIndex {aqi}")
vehicles = produced["delivered"]["vehicle_data"]
enriched = table("enriched_data")
joined_none = con.execute("SELECT count(*) FROM enriched_data WHERE emergencyType = 'None'").fetchone()[0]
incidents = con.execute("SELECT count(*) FROM enriched_data WHERE emergencyType IS NOT NULL").fetchone()[0]
print(f"enriched_data: {enriched} rows for {vehicles} vehicle records, {incidents} with an incident")
if enriched != vehicles or joined_none or incidents != vehicles - none:
    bad.append(f"enriched_data: {enriched} rows ({incidents} with an incident, {joined_none} 'None'), "
               f"expected {vehicles} ({vehicles - none} with an incident)")
if bad:
    sys.exit("\n".join(bad))
PY
ok "every record of the seeds' producer is in its raw table, none in _dead_letters; 'None' emergencies stored, never joined"
finish
