#!/usr/bin/env python3
"""The race's external latency probe (bench/race.sh): when did each row become visible in the lake,
and how long after it was produced?

  lake_latency.py --format delta|spark|flink --table DIR --kafka-ts FILE [--launch EPOCH] [--from-ms MS]

A reader can see a row once the commit naming its data file exists: for a Delta table (smartcity)
that is the `_delta_log/<version>.json` entry, for Spark's file sink the `_spark_metadata/<batch>`
entry (both written to a temporary name and renamed into place, so their modification time is the
moment they became visible); Flink's filesystem sink has no log: a data file is visible once the
checkpoint that covers it renames it from its hidden in-progress name (`.part-…`) to `part-…`, so the
file's status-change time (ctime, set by the rename) is that moment and each file is its own commit. For every row of every committed file the probe reads the Kafka
partition and offset the row came from (`_partition`, `_offset`, kept by both processors), looks up
the message's Kafka CreateTime (the producer's clock) in --kafka-ts (lines `partition offset
timestamp_ms`, as `kcat -f '%p %o %T\\n'` prints them) and takes visible - produced.

Rows produced before --from-ms (epoch milliseconds) are left out of the quantiles (warm-up).
With --stopped, rows produced in the window but never committed are counted (uncommitted) and give
lower bounds of the quantiles (p50_lower_bound_ms, p99_lower_bound_ms).
Prints one JSON object: count, p50_ms, p99_ms, max_ms, commits, first_commit_s (first commit with
a row, seconds after --launch), rows (all committed rows).
"""
import argparse
import array
import json
import os
import sys
import urllib.parse

import pyarrow.parquet as pq


def delta_commits(table):
    log = os.path.join(table, "_delta_log")
    out = []
    for name in sorted(os.listdir(log)):
        if not name.endswith(".json"):
            continue
        full = os.path.join(log, name)
        mtime = os.stat(full).st_mtime_ns / 1e6
        files = []
        with open(full) as f:
            for line in f:
                action = json.loads(line)
                if "add" in action and action["add"].get("dataChange", True):
                    files.append(os.path.join(table, urllib.parse.unquote(action["add"]["path"])))
        out.append((mtime, files))
    return out


def spark_commits(table):
    log = os.path.join(table, "_spark_metadata")
    entries = []
    for name in os.listdir(log):
        base = name[:-len(".compact")] if name.endswith(".compact") else name
        if base.isdigit():
            entries.append((int(base), name))
    out, seen = [], set()
    for _, name in sorted(entries):
        full = os.path.join(log, name)
        mtime = os.stat(full).st_mtime_ns / 1e6
        files = []
        with open(full) as f:
            next(f, None)  # "v1"
            for line in f:
                if not line.strip():
                    continue
                e = json.loads(line)
                if e.get("action", "add") != "add":
                    continue
                path = urllib.parse.urlparse(e["path"]).path
                path = urllib.parse.unquote(path)
                if path not in seen:  # a .compact entry repeats every earlier batch's files
                    seen.add(path)
                    files.append(path)
        out.append((mtime, files))
    return out


def flink_commits(table):
    """A Flink filesystem sink's visible files, each (rename time, [file]), oldest first."""
    out = []
    for name in os.listdir(table):
        if name.startswith((".", "_")):  # in-progress files are hidden: not visible yet
            continue
        full = os.path.join(table, name)
        if os.path.isfile(full):
            out.append((os.stat(full).st_ctime_ns / 1e6, [full]))
    return sorted(out)


def load_kafka_ts(path):
    ts = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 3:
                continue
            p, o, t = int(parts[0]), int(parts[1]), int(parts[2])
            a = ts.setdefault(p, array.array("q"))
            if o >= len(a):
                a.extend([-1] * (o + 1 - len(a)))
            a[o] = t
    return ts


def quantile(sorted_values, q):
    if not sorted_values:
        return None
    i = min(len(sorted_values) - 1, max(0, int(q * len(sorted_values) + 0.5) - 1))
    return sorted_values[i]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--format", choices=["delta", "spark", "flink"], required=True)
    p.add_argument("--table", required=True)
    p.add_argument("--kafka-ts", required=True)
    p.add_argument("--launch", type=float, default=None, help="epoch seconds the processor was launched")
    p.add_argument("--from-ms", type=float, default=0)
    p.add_argument("--stopped", type=float, default=None,
                   help="epoch seconds the processor stopped: rows produced from --from-ms on that it never "
                        "committed count with (stopped - produced) as a lower bound of their latency")
    a = p.parse_args()
    commits = {"delta": delta_commits, "spark": spark_commits, "flink": flink_commits}[a.format](a.table)
    ts = load_kafka_ts(a.kafka_ts)
    lat, rows, missing, first = [], 0, 0, None
    committed = set()
    for visible, files in commits:
        n_commit = 0
        for path in files:
            t = pq.read_table(path, columns=["_partition", "_offset"])
            parts = t.column("_partition").to_pylist()
            offs = t.column("_offset").to_pylist()
            n_commit += len(parts)
            for part, off in zip(parts, offs):
                arr = ts.get(part)
                produced = arr[off] if arr is not None and off < len(arr) else -1
                if produced < 0:
                    missing += 1
                    continue
                if produced >= a.from_ms:
                    lat.append(visible - produced)
                    committed.add((part, off))
        rows += n_commit
        if n_commit and first is None:
            first = visible
    censored = []
    if a.stopped is not None:
        for part, arr in ts.items():
            for off, produced in enumerate(arr):
                if produced >= a.from_ms and produced <= a.stopped * 1000 and (part, off) not in committed:
                    censored.append(a.stopped * 1000 - produced)
    bound = sorted(lat + censored)
    lat.sort()
    out = {
        "uncommitted": len(censored),
        "p50_lower_bound_ms": quantile(bound, 0.50) if censored else None,
        "p99_lower_bound_ms": quantile(bound, 0.99) if censored else None,
        "count": len(lat), "rows": rows, "commits": len(commits), "missing_ts": missing,
        "p50_ms": quantile(lat, 0.50), "p99_ms": quantile(lat, 0.99), "max_ms": lat[-1] if lat else None,
        "first_commit_s": (first / 1000 - a.launch) if (first is not None and a.launch) else None,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    sys.exit(main())
