#!/usr/bin/env python3
"""Checks that the race is fair (bench/race.sh): smartcity's lake and Spark's output hold the same rows
for the drained backlog.

  race_check.py --lake SC_LAKE --spark SPARK_OUT --watermark-delay SECONDS

Raw tables: the same number of rows, and the same set of (partition, offset) pairs (every Kafka message
of the topic exactly once in each). enriched_data: neither processor was told the input had ended, so
each holds back the vehicle readings without an emergency match whose watermark has not passed yet;
rows with a timestamp older than the newest vehicle timestamp minus 2 x D (both watermarks are past
them) must be identical: the same (vehicle partition, offset, emergency partition, offset) keys with
the same values. Only committed files are read (Delta log / Spark's _spark_metadata).
Prints one JSON object and exits 1 when something differs.
"""
import argparse
import json
import os
import sys
import urllib.parse

import duckdb

TABLES = ["vehicle_data", "gps_data", "traffic_data", "weather_data", "emergency_data"]


def spark_files(table):
    log = os.path.join(table, "_spark_metadata")
    files = set()
    if not os.path.isdir(log):
        return []
    for name in os.listdir(log):
        if not name.replace(".compact", "").isdigit():  # skip Hadoop's .crc files
            continue
        with open(os.path.join(log, name)) as f:
            next(f, None)
            for line in f:
                if line.strip():
                    e = json.loads(line)
                    if e.get("action", "add") == "add":
                        files.add(urllib.parse.unquote(urllib.parse.urlparse(e["path"]).path))
    return sorted(files)


def delta_files(table):
    """The table's live data files: a replay of the JSON commits (complete; checkpoints only speed up)."""
    log = os.path.join(table, "_delta_log")
    live = set()
    for name in sorted(n for n in os.listdir(log) if n.endswith(".json")):
        with open(os.path.join(log, name)) as f:
            for line in f:
                action = json.loads(line)
                if "add" in action:
                    live.add(action["add"]["path"])
                elif "remove" in action:
                    live.discard(action["remove"]["path"])
    return sorted(os.path.join(table, urllib.parse.unquote(p)) for p in live)


def view(con, name, files, columns):
    if not files:
        con.execute(f"CREATE VIEW {name} AS SELECT {', '.join('NULL AS ' + c for c in columns)} WHERE false")
        return
    lst = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    con.execute(f"CREATE VIEW {name} AS SELECT {', '.join(columns)} FROM read_parquet([{lst}], union_by_name=true)")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--lake", required=True)
    p.add_argument("--spark", required=True)
    p.add_argument("--watermark-delay", type=float, default=120)
    a = p.parse_args()
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    out = {"raw": {}, "ok": True}
    for t in TABLES:
        view(con, f"sc_{t}", delta_files(os.path.join(a.lake, t)), ["_partition", "_offset"])
        view(con, f"sp_{t}", spark_files(os.path.join(a.spark, t)), ["_partition", "_offset"])
        n_sc = con.execute(f"SELECT count(*) FROM sc_{t}").fetchone()[0]
        n_sp = con.execute(f"SELECT count(*) FROM sp_{t}").fetchone()[0]
        diff = con.execute(f"SELECT count(*) FROM ((SELECT * FROM sc_{t} EXCEPT ALL SELECT * FROM sp_{t}) UNION ALL "
                           f"(SELECT * FROM sp_{t} EXCEPT ALL SELECT * FROM sc_{t}))").fetchone()[0]
        out["raw"][t] = {"smartcity": n_sc, "spark": n_sp, "differing": diff}
        out["ok"] &= n_sc == n_sp and diff == 0
    cols = ["deviceId", "timestamp", "latitude", "longitude", "speed", "direction", "temperature",
            "weatherCondition", "precipitation", "windSpeed", "humidity", "airQualityIndex", "emergencyType",
            "emergencyStatus", "incidentId", "_vehiclePartition", "_vehicleOffset", "_weatherPartition",
            "_weatherOffset", "_emergencyPartition", "_emergencyOffset"]
    view(con, "sc_e", delta_files(os.path.join(a.lake, "enriched_data")), cols)
    view(con, "sp_e", spark_files(os.path.join(a.spark, "enriched_data")), cols)
    cutoff = con.execute("SELECT CAST(max(timestamp) AS VARCHAR) FROM sc_e").fetchone()[0]
    n = {}
    for side in ("sc_e", "sp_e"):
        n[side] = con.execute(f"SELECT count(*) FROM {side}").fetchone()[0]
    where = f"timestamp < (SELECT max(timestamp) FROM sp_e) - INTERVAL {int(2 * a.watermark_delay)} SECOND " \
            f"AND timestamp < (SELECT max(timestamp) FROM sc_e) - INTERVAL {int(2 * a.watermark_delay)} SECOND"
    # Doubles as text with 9 significant digits: both parse the same JSON numbers, but compare robustly.
    sel = ", ".join(f"round({c}, 6)" if c in ("latitude", "longitude", "speed", "temperature", "precipitation",
                                              "windSpeed") else c for c in cols)
    n_cmp_sc = con.execute(f"SELECT count(*) FROM sc_e WHERE {where}").fetchone()[0]
    n_cmp_sp = con.execute(f"SELECT count(*) FROM sp_e WHERE {where}").fetchone()[0]
    only_sc = con.execute(f"SELECT count(*) FROM (SELECT {sel} FROM sc_e WHERE {where} EXCEPT ALL "
                          f"SELECT {sel} FROM sp_e WHERE {where})").fetchone()[0]
    only_sp = con.execute(f"SELECT count(*) FROM (SELECT {sel} FROM sp_e WHERE {where} EXCEPT ALL "
                          f"SELECT {sel} FROM sc_e WHERE {where})").fetchone()[0]
    with_emergency = con.execute(f"SELECT count(*) FROM sc_e WHERE {where} AND incidentId IS NOT NULL").fetchone()[0]
    out["enriched"] = {"smartcity_rows": n["sc_e"], "spark_rows": n["sp_e"], "compared_smartcity": n_cmp_sc,
                       "compared_spark": n_cmp_sp, "compared_with_emergency": with_emergency,
                       "only_smartcity": only_sc, "only_spark": only_sp, "newest": str(cutoff)}
    out["ok"] &= only_sc == 0 and only_sp == 0 and n_cmp_sc > 0
    print(json.dumps(out))
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
