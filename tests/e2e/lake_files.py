"""Counts, per table of a local smartcity lake, the data files the Python `deltalake` package sees
per date partition and the objects in its _delta_log, and checks them against bounds.

Usage: lake_files.py LAKE [--max-files-per-partition N] [--max-log-objects N] [--closed FOLDER]...
                     [--closed-small-bytes N]
  --closed date=2026-01-05: that partition must be one file in every table that has it (repeatable);
  --closed-small-bytes N: instead, it may hold at most one file smaller than N bytes (compaction's
  idea of a small file) beside any number of larger ones.
Prints one JSON object {table: {"files_per_partition_max": n, "partitions": p, "log_objects": l}};
exits 1 (naming the table) when a bound is exceeded.
"""
import collections
import json
import os
import sys

import pyarrow
from deltalake import DeltaTable

TABLES = ["vehicle_data", "gps_data", "traffic_data", "weather_data", "emergency_data",
          "enriched_data", "_dead_letters", "_late_events"]


def main():
    args = sys.argv[1:]
    lake = args[0]
    bounds, closed = {}, []
    for i in range(1, len(args), 2):
        if args[i] == "--closed":
            closed.append(args[i + 1])
        else:
            bounds[args[i]] = int(args[i + 1])
    out, bad = {}, []
    for t in TABLES:
        path = os.path.join(lake, t)
        if not os.path.isdir(os.path.join(path, "_delta_log")):
            continue
        dt = DeltaTable(path)
        uris = dt.file_uris()
        per = collections.Counter(u.rsplit("/", 2)[-2] for u in uris)  # the date=... folder
        adds = pyarrow.table(dt.get_add_actions(flatten=True)).to_pydict()
        small = collections.Counter(p.rsplit("/", 2)[-2] for p, n in zip(adds["path"], adds["size_bytes"])
                                    if n < bounds.get("--closed-small-bytes", 0))
        most = max(per.values()) if per else 0
        log = len(os.listdir(os.path.join(path, "_delta_log")))
        out[t] = {"files_per_partition_max": most, "partitions": len(per), "log_objects": log}
        if most > bounds.get("--max-files-per-partition", 1 << 62):
            bad.append(f"{t}: {most} files in one partition")
        for c in closed:
            if "--closed-small-bytes" in bounds:
                if small.get(c, 0) > 1:
                    bad.append(f"{t}: {small[c]} small files in the closed partition {c}")
            elif per.get(c, 1) != 1:
                bad.append(f"{t}: {per[c]} files in the closed partition {c}")
        if log > bounds.get("--max-log-objects", 1 << 62):
            bad.append(f"{t}: {log} _delta_log objects")
    print(json.dumps(out, sort_keys=True))
    if bad:
        print("bounds exceeded: " + "; ".join(bad), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
