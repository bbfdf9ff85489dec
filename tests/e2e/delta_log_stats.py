"""What many writers did to the Delta logs of a local smartcity lake: per table, the versions, how
many were streaming commits (they carry txn actions) and how many maintenance (compaction) commits,
the streaming versions per trigger interval, the log's size, and whether any (appId, epoch) txn was
committed twice.

  delta_log_stats.py LAKE --trigger SECONDS [--max-per-trigger X] [--max-per-window N] [--orphans]

Streaming versions per trigger: the table's streaming versions divided by the trigger intervals
between its first and last streaming commit (commitInfo.timestamp), plus one. With M members each
closing an epoch every trigger, that is about M (every member commits every table every epoch, rows
or not). The busiest interval: the most streaming versions whose timestamps fall into one interval
[t0 + kT, t0 + (k+1)T) of the table's first streaming commit t0.

Prints one JSON object {table: {...}, "all": {...}}. Exits 1, naming the table, when
  - a txn (appId, version) is in more than one version of a table (an epoch committed twice), or a
    streaming version has no txn;
  - --max-per-trigger X: a table's streaming versions per trigger exceed X;
  - --max-per-window N: a table's busiest interval holds more than N streaming versions;
  - --orphans: the data files the Python `deltalake` package reads are not exactly those that the
    JSON log's add actions minus its remove actions name, or one of them is missing. Data files on
    disk that no add names (orphans: written by a writer that died or lost its commit) are counted
    ("orphans"); they must be invisible, never read.
"""
import argparse
import json
import os
import sys

TABLES = ["vehicle_data", "gps_data", "traffic_data", "weather_data", "emergency_data",
          "enriched_data", "_dead_letters", "_late_events"]


def table_stats(path, trigger_ms):
    log = os.path.join(path, "_delta_log")
    versions, streaming_ts, maintenance, log_bytes, problems = 0, [], 0, 0, []
    seen = {}
    added, removed = set(), set()
    for name in sorted(os.listdir(log)):
        full = os.path.join(log, name)
        log_bytes += os.path.getsize(full)
        if not name.endswith(".json") or name.startswith("_"):
            continue
        version = int(name[:-5])
        versions += 1
        txns, info, adds = [], {}, 0
        with open(full) as f:
            for line in f:
                if not line.strip():
                    continue
                action = json.loads(line)
                if "txn" in action:
                    txns.append((action["txn"]["appId"], action["txn"]["version"]))
                elif "commitInfo" in action:
                    info = action["commitInfo"]
                elif "add" in action:
                    adds += 1
                    added.add(action["add"]["path"])
                elif "remove" in action:
                    removed.add(action["remove"]["path"])
        if info.get("operation") == "STREAMING UPDATE":
            if not txns:
                problems.append(f"version {version} is a streaming commit without a txn")
            streaming_ts.append(info["timestamp"])
            for t in txns:
                if t in seen:
                    problems.append(f"txn {t[0]} epoch {t[1]} is in versions {seen[t]} and {version}")
                seen[t] = version
        elif version > 0:
            maintenance += 1
    streaming_ts.sort()
    per_trigger, busiest = 0.0, 0
    if streaming_ts:
        t0 = streaming_ts[0]
        intervals = (streaming_ts[-1] - t0) // trigger_ms + 1
        per_trigger = len(streaming_ts) / intervals
        counts = {}
        for ts in streaming_ts:
            k = (ts - t0) // trigger_ms
            counts[k] = counts.get(k, 0) + 1
        busiest = max(counts.values())
    return {
        "versions": versions,
        "streaming_versions": len(streaming_ts),
        "maintenance_versions": maintenance,
        "txns": len(seen),
        "per_trigger": round(per_trigger, 3),
        "busiest_interval": busiest,
        "log_bytes": log_bytes,
        "seconds": (streaming_ts[-1] - streaming_ts[0]) / 1000 if streaming_ts else 0,
    }, problems, (added, removed)


def visibility(path, added, removed):
    """(problems, orphans): what a reader sees against what the log names; files no add names."""
    from deltalake import DeltaTable  # only here: the statistics need no reader
    from urllib.parse import unquote
    problems = []
    if not os.path.exists(os.path.join(path, "_delta_log", "00000000000000000000.json")):
        return [f"the JSON log does not start at version 0 (cleaned up): cannot replay it"], 0
    active = added - removed
    root = os.path.abspath(path)
    seen = {os.path.relpath(unquote(u.removeprefix("file://")), root) for u in DeltaTable(path).file_uris()}
    if seen != {unquote(f) for f in active}:
        problems.append(f"a reader sees {len(seen)} files, the log's adds minus removes name {len(active)}: "
                        f"{sorted(seen ^ {unquote(f) for f in active})[:5]}")
    for f in active:
        if not os.path.exists(os.path.join(path, unquote(f))):
            problems.append(f"file {f} is named by the log but missing")
    named = {unquote(f) for f in added}
    orphans = 0
    for d, _, files in os.walk(path):
        if "_delta_log" in d or ".staging" in d:
            continue
        for name in files:
            rel = os.path.relpath(os.path.join(d, name), path)
            if name.endswith(".parquet") and rel not in named:
                orphans += 1
    return problems, orphans


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("lake")
    ap.add_argument("--trigger", type=float, required=True, help="seconds")
    ap.add_argument("--max-per-trigger", type=float)
    ap.add_argument("--max-per-window", type=int)
    ap.add_argument("--orphans", action="store_true")
    a = ap.parse_args()
    trigger_ms = max(1, int(a.trigger * 1000))
    out, bad = {}, []
    for t in TABLES:
        s, problems, (added, removed) = table_stats(os.path.join(a.lake, t), trigger_ms)
        if a.orphans:
            vp, s["orphans"] = visibility(os.path.join(a.lake, t), added, removed)
            problems += vp
        out[t] = s
        bad += [f"{t}: {p}" for p in problems]
        if a.max_per_trigger is not None and s["per_trigger"] > a.max_per_trigger:
            bad.append(f"{t}: {s['per_trigger']} streaming versions per trigger > {a.max_per_trigger}")
        if a.max_per_window is not None and s["busiest_interval"] > a.max_per_window:
            bad.append(f"{t}: {s['busiest_interval']} streaming versions in one trigger interval "
                       f"> {a.max_per_window}")
    out["all"] = {
        "versions": sum(out[t]["versions"] for t in TABLES),
        "streaming_versions": sum(out[t]["streaming_versions"] for t in TABLES),
        "maintenance_versions": sum(out[t]["maintenance_versions"] for t in TABLES),
        "log_bytes": sum(out[t]["log_bytes"] for t in TABLES),
        "per_trigger_max": max(out[t]["per_trigger"] for t in TABLES),
        "busiest_interval_max": max(out[t]["busiest_interval"] for t in TABLES),
    }
    if a.orphans:
        out["all"]["orphans"] = sum(out[t]["orphans"] for t in TABLES)
    print(json.dumps(out))
    for b in bad:
        print(b, file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
