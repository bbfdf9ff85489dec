"""Reads the eight tables of a smartcity lake with the Python `deltalake` package (a local folder or
s3://bucket/prefix on the server named by AWS_ENDPOINT_URL / AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)
and prints "table=rows ..." in table-name order, the format of run_exactly_once.sh's count_rows.

With --check it also fails (exit 1) unless, as a Delta reader sees it:
  - no raw table holds an input record (_partition, _offset) twice;
  - enriched_data equals the batch join of SPEC section 3 over the raw tables
    (vehicle JOIN weather LEFT JOIN emergency on deviceId and timestamp), late records excluded
    (a record in _late_events is kept in its raw table and never joined), and emergency records of
    type "None" too (no incident: stored, never joined).

Usage: python lake_check.py LAKE [--check]
"""
import os
import sys

import duckdb
from deltalake import DeltaTable

TABLES = sorted(["vehicle_data", "gps_data", "traffic_data", "weather_data", "emergency_data",
                 "enriched_data", "_dead_letters", "_late_events"])
RAW = ["vehicle_data", "gps_data", "traffic_data", "weather_data", "emergency_data"]


def storage_options():
    if "AWS_ENDPOINT_URL" not in os.environ:
        return None
    return {
        "AWS_ENDPOINT_URL": os.environ["AWS_ENDPOINT_URL"],
        "AWS_ACCESS_KEY_ID": os.environ["AWS_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": os.environ["AWS_SECRET_ACCESS_KEY"],
        "AWS_REGION": os.environ.get("AWS_REGION", "us-east-1"),
        "AWS_ALLOW_HTTP": "true",
        "AWS_S3_ALLOW_UNSAFE_RENAME": "true",  # read-only here; no rename is ever done
    }


def main():
    lake = sys.argv[1].rstrip("/")
    check = "--check" in sys.argv[2:]
    opts = storage_options() if lake.startswith("s3://") else None
    con = duckdb.connect()
    counts = []
    for t in TABLES:
        arrow = DeltaTable(f"{lake}/{t}", storage_options=opts).to_pyarrow_table()
        con.register(t, arrow)
        counts.append(f"{t}={arrow.num_rows}")
    print(" ".join(counts))
    if not check:
        return
    failures = []
    for t in RAW:
        dup = con.execute(f'SELECT count(*) - count(DISTINCT (_partition, _offset)) FROM "{t}"').fetchone()[0]
        if dup:
            failures.append(f"{t}: {dup} duplicate input records")

    def not_late(alias, topic):
        return (f"NOT EXISTS (SELECT 1 FROM _late_events l WHERE l.topic = '{topic}' "
                f"AND l.partition = {alias}._partition AND l.offset = {alias}._offset)")

    oracle = (
        "SELECT v.deviceId, v.timestamp, v.latitude, v.longitude, v.speed, v.direction, w.temperature, "
        "w.weatherCondition, e.type AS emergencyType, e.status AS emergencyStatus, e.incidentId "
        f"FROM (SELECT * FROM vehicle_data v WHERE {not_late('v', 'vehicle_data')}) v "
        f"JOIN (SELECT * FROM weather_data w WHERE {not_late('w', 'weather_data')}) w "
        "ON w.deviceId = v.deviceId AND w.timestamp = v.timestamp "
        # type "None" (no incident, as the seeds' producer writes): stored, never joined
        f"LEFT JOIN (SELECT * FROM emergency_data e WHERE {not_late('e', 'emergency_data')} "
        "AND e.type <> 'None') e "
        "ON e.deviceId = v.deviceId AND e.timestamp = v.timestamp")
    ours = ("SELECT deviceId, timestamp, latitude, longitude, speed, direction, temperature, weatherCondition, "
            "emergencyType, emergencyStatus, incidentId FROM enriched_data")
    enriched = con.execute("SELECT count(*) FROM enriched_data").fetchone()[0]
    missing = con.execute(f"SELECT count(*) FROM ({oracle} EXCEPT ALL {ours})").fetchone()[0]
    extra = con.execute(f"SELECT count(*) FROM ({ours} EXCEPT ALL {oracle})").fetchone()[0]
    if enriched == 0:
        failures.append("enriched_data is empty")
    if missing or extra:
        failures.append(f"join oracle: {missing} rows missing from enriched_data, {extra} unexpected rows")
    if failures:
        sys.exit("lake_check FAILED: " + "; ".join(failures))
    print(f"lake_check: no duplicates, enriched_data ({enriched} rows) equals the batch join", file=sys.stderr)


if __name__ == "__main__":
    main()
