#!/usr/bin/env python3
"""Checks that the race is fair (bench/race.sh): smartcity's lake and each peer's output (Spark's, Flink's)
hold the same rows for the drained backlog.

  race_check.py --lake SC_LAKE [--spark SPARK_OUT] [--flink FLINK_OUT] --watermark-delay SECONDS

Raw tables: the same number of rows, and the same set of (partition, offset) pairs (every Kafka message
of the topic exactly once in each). enriched_data: a processor not told the input had ended holds back
the vehicle readings without an emergency match whose watermark has not passed yet; rows with a timestamp
older than the newest vehicle timestamp (of every output compared) minus 2 x D (all watermarks are past
them) must be identical: the same (vehicle partition, offset, emergency partition, offset) keys with the
same values. Only committed files are read (Delta log / Spark's _spark_metadata / Flink's visible part
files: its in-progress files are hidden, named with a leading dot).
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


def flink_files(table):
    """A Flink filesystem sink's committed files: the ones renamed from their hidden in-progress names."""
    if not os.path.isdir(table):
        return []
    return sorted(os.path.join(table, n) for n in os.listdir(table)
                  if not n.startswith((".", "_")) and os.path.isfile(os.path.join(table, n)))


def view(con, name, files, columns):
    if not files:
        con.execute(f"CREATE VIEW {name} AS SELECT {', '.join('NULL AS ' + c for c in columns)} WHERE false")
        return
    lst = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    con.execute(f"CREATE VIEW {name} AS SELECT {', '.join(columns)} FROM read_parquet([{lst}], union_by_name=true)")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--lake", required=True)
    p.add_argument("--spark")
    p.add_argument("--flink")
    p.add_argument("--watermark-delay", type=float, default=120)
    a = p.parse_args()
    peers = {name: (root, files) for name, root, files in (("spark", a.spark, spark_files),
                                                          ("flink", a.flink, flink_files)) if root}
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    out = {"raw": {}, "ok": True, "peers": list(peers)}
    for t in TABLES:
        view(con, f"sc_{t}", delta_files(os.path.join(a.lake, t)), ["_partition", "_offset"])
        n_sc = con.execute(f"SELECT count(*) FROM sc_{t}").fetchone()[0]
        out["raw"][t] = {"smartcity": n_sc}
        for name, (root, files) in peers.items():
            view(con, f"{name}_{t}", files(os.path.join(root, t)), ["_partition", "_offset"])
            n = con.execute(f"SELECT count(*) FROM {name}_{t}").fetchone()[0]
            diff = con.execute(f"SELECT count(*) FROM ((SELECT * FROM sc_{t} EXCEPT ALL SELECT * FROM {name}_{t}) "
                               f"UNION ALL (SELECT * FROM {name}_{t} EXCEPT ALL SELECT * FROM sc_{t}))").fetchone()[0]
            out["raw"][t][name] = n
            out["raw"][t][f"differing_{name}"] = diff
            out["ok"] &= n_sc == n and diff == 0
    cols = ["deviceId", "timestamp", "latitude", "longitude", "speed", "direction", "temperature",
            "weatherCondition", "precipitation", "windSpeed", "humidity", "airQualityIndex", "emergencyType",
            "emergencyStatus", "incidentId", "_vehiclePartition", "_vehicleOffset", "_weatherPartition",
            "_weatherOffset", "_emergencyPartition", "_emergencyOffset"]
    view(con, "sc_e", delta_files(os.path.join(a.lake, "enriched_data")), cols)
    for name, (root, files) in peers.items():
        view(con, f"{name}_e", files(os.path.join(root, "enriched_data")), cols)
    sides = ["sc_e"] + [f"{name}_e" for name in peers]
    cutoff = con.execute("SELECT CAST(max(timestamp) AS VARCHAR) FROM sc_e").fetchone()[0]
    # Older than every output's newest row minus 2 x D: past every processor's watermark.
    where = " AND ".join(f"timestamp < (SELECT max(timestamp) FROM {side}) - INTERVAL {int(2 * a.watermark_delay)} SECOND"
                         for side in sides)
    # Doubles rounded: all parse the same JSON numbers, but compare robustly.
    sel = ", ".join(f"round({c}, 6)" if c in ("latitude", "longitude", "speed", "temperature", "precipitation",
                                              "windSpeed") else c for c in cols)
    count = lambda side, cond="": con.execute(f"SELECT count(*) FROM {side} {cond}").fetchone()[0]
    n_cmp_sc = count("sc_e", f"WHERE {where}")
    with_emergency = count("sc_e", f"WHERE {where} AND incidentId IS NOT NULL")
    out["enriched"] = {"smartcity_rows": count("sc_e"), "compared_smartcity": n_cmp_sc,
                       "compared_with_emergency": with_emergency, "newest": str(cutoff)}
    out["ok"] &= n_cmp_sc > 0
    for name in peers:
        side = f"{name}_e"
        only_sc = con.execute(f"SELECT count(*) FROM (SELECT {sel} FROM sc_e WHERE {where} EXCEPT ALL "
                              f"SELECT {sel} FROM {side} WHERE {where})").fetchone()[0]
        only_peer = con.execute(f"SELECT count(*) FROM (SELECT {sel} FROM {side} WHERE {where} EXCEPT ALL "
                                f"SELECT {sel} FROM sc_e WHERE {where})").fetchone()[0]
        out["enriched"].update({f"{name}_rows": count(side), f"compared_{name}": count(side, f"WHERE {where}"),
                                f"only_smartcity_vs_{name}": only_sc, f"only_{name}": only_peer})
        out["ok"] &= only_sc == 0 and only_peer == 0
    print(json.dumps(out))
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
