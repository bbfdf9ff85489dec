"""Counts, per table of a local smartcity lake, the data files the Python `deltalake` package sees
per date partition and the objects in its _delta_log, and checks them against bounds.

Usage: lake_files.py LAKE [--max-files-per-partition N] [--max-log-objects N] [--closed FOLDER]
  --closed date=2026-01-05: that partition must be one file in every table that has it.
Prints one JSON object {table: {"files_per_partition_max": n, "partitions": p, "log_objects": l}};
exits 1 (naming the table) when a bound is exceeded.
"""
import collections
import json
import os
import sys

from deltalake import DeltaTable

TABLES = ["vehicle_data", "gps_data", "traffic_data", "weather_data", "emergency_data",
          "enriched_data", "_dead_letters", "_late_events"]


def main():
    args = sys.argv[1:]
    lake = args[0]
    bounds = {}
    for i in range(1, len(args), 2):
        bounds[args[i]] = args[i + 1] if args[i] == "--closed" else int(args[i + 1])
    out, bad = {}, []
    for t in TABLES:
        path = os.path.join(lake, t)
        if not os.path.isdir(os.path.join(path, "_delta_log")):
            continue
        uris = DeltaTable(path).file_uris()
        per = collections.Counter(u.rsplit("/", 2)[-2] for u in uris)  # the date=... folder
        most = max(per.values()) if per else 0
        log = len(os.listdir(os.path.join(path, "_delta_log")))
        out[t] = {"files_per_partition_max": most, "partitions": len(per), "log_objects": log}
        if most > bounds.get("--max-files-per-partition", 1 << 62):
            bad.append(f"{t}: {most} files in one partition")
        closed = bounds.get("--closed")
        if closed is not None and per.get(closed, 1) != 1:
            bad.append(f"{t}: {per[closed]} files in the closed partition {closed}")
        if log > bounds.get("--max-log-objects", 1 << 62):
            bad.append(f"{t}: {log} _delta_log objects")
    print(json.dumps(out, sort_keys=True))
    if bad:
        print("bounds exceeded: " + "; ".join(bad), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
