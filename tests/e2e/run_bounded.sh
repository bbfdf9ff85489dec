#!/usr/bin/env bash
# smartcity run over two days of city time (the steady city, --speedup max, the default memory
# limit, lake maintenance and the warehouse follower on): growth is bounded.
#   - memory: the resident set at the end (the last quarter of the run) is not above the resident
#     set after the first quarter (the second quarter), at the median of each, give or take a margin
#     (tests/e2e/run_sampler.py samples /proc while the run goes on); the peak is within a margin of
#     --memory-limit;
#   - files: every date partition of every table holds at most --max-small-files data files plus
#     what one pass can find (tests/e2e/lake_files.py, through the Python deltalake package), and
#     the closed days are compacted;
#   - log: no _delta_log object older than the log retention survives except the few commits after
#     the newest checkpoint before the retention (lake::CleanupLog's rule), and no data file older
#     than the vacuum retention lies in the lake unreferenced: the counts follow the retentions, not
#     the run length;
#   - rows: every table equals the oracle as the deltalake package reads it: each generated event is
#     in its raw table once (counts equal `simulate`'s for the same seed), no record twice, and
#     enriched_data equals the SPEC join of the raw tables (tests/e2e/lake_check.py --check); the
#     warehouse's enriched_data equals the lake's, row for row (tests/e2e/warehouse_compare.py).
# The retentions are seconds here, not the default hour, so that they act within the run. The
# maintainer's passes take turns over the tables and take longer on a loaded machine: what the
# retentions remove may outlive them by `slack` seconds (the run itself lasts minutes, so the log
# and the files still follow the retentions, not the run length).
#
# Usage: run_bounded.sh SMARTCITY
set -euo pipefail
. "$(dirname "$0")/lib.sh"
smartcity=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
workdir bounded
python_env

# Percent the resident set may grow from the second quarter of the run to the last, compared at
# the median of each. The two are the same hours of the day (12:00 to midnight: past the start, at the
# same point of the day's cycle, since the open day's merged file grows through the day and a closed
# day is compacted early the next). A part that grows with the run's length shows there. Measured:
# +1% to +4%. Peaks are not compared: a peak is the largest of many momentary sums (a compaction, a
# warehouse load and an epoch's write may meet) and the first closed day's compaction comes after
# the first day, so the peak after the first quarter against the peak at the end moved +8% to +15%
# between runs with no growth. The benchmark's target (bench/soak.sh) is 10% over 7 days.
margin=10
# Percent the peak may exceed --memory-limit (its default, 256 MiB). The target is the limit itself:
# this run peaked at 274-293 MiB while the lake maintenance and the warehouse loader could work at
# once, at 239-256 MiB since they take turns (issue 15); the margin is the spread of a peak.
over_limit=10
limit_mib=256
retention=10
slack=30
city=(--duration 2d --start 2026-01-05T00:00:00Z --vehicles 25 --seed 17)
day1=2026-01-06T00:00:00
quarters=(2026-01-05T12:00:00 2026-01-06T00:00:00 2026-01-06T12:00:00 2026-01-07T00:00:00)

"$PY" "$here/run_sampler.py" "$work/run.json" "$work/lake" "$day1" -- \
  "$smartcity" run "${city[@]}" --speedup max --no-serve --lake "$work/lake" \
  --warehouse "duckdb:$work/warehouse.duckdb" --memory-limit "$limit_mib" \
  --maintenance-interval 1s --log-retention "${retention}s" --vacuum-retention "${retention}s" ||
  { tail -5 "$work/run.log" >&2; fail "the run failed"; }
end=$(date +%s)

"$PY" - "$work/run.json" "$margin" "$over_limit" "$limit_mib" "${quarters[@]}" <<'EOF'
import json, statistics, sys
r = json.load(open(sys.argv[1])); margin, over, limit = map(int, sys.argv[2:5])
a0, a1, b0, b1 = sys.argv[5:9]
d, e = r["hwm_mark_kib"], r["hwm_end_kib"]
first = [s[2] for s in r["samples"] if s[2] and a0 <= s[1] < a1]
second = [s[2] for s in r["samples"] if s[2] and b0 <= s[1] < b1]
if len(first) < 10 or len(second) < 10:
    sys.exit(f"too few samples to compare the quarters ({len(first)} and {len(second)})")
m1, m2 = statistics.median(first), statistics.median(second)
print(f"resident set, median: {m1 // 1024:.0f} MiB in the second quarter (day 1, noon to midnight), "
      f"{m2 // 1024:.0f} MiB in the last (day 2) ({len(first)} and {len(second)} samples); "
      f"peak RSS {(d or 0) // 1024} MiB after day 1, {e // 1024} MiB at the end (city time at the end {r['city_time_end']}); "
      f"most _delta_log objects {r['max_log_objects']}; most data files {r['max_data_files']}")
if m2 > m1 * (100 + margin) / 100:
    sys.exit(f"memory grew: the resident set in the last quarter is {100 * m2 / m1 - 100:.0f}% above "
             f"the second quarter's (margin {margin}%)")
if e > (limit << 10) * (100 + over) / 100:
    sys.exit(f"the peak, {e // 1024} MiB, is more than {over}% above --memory-limit {limit}")
EOF
ok "memory: the last quarter within ${margin}% of the second; the peak within ${over_limit}% of --memory-limit"

# The first day is closed (the second one is still open when the run stops at midnight), so its
# small files (below a quarter of the 128 MB target size) are merged: at most one small file is
# left beside merged ones (measured: vehicle_data closes its first day in two or three files).
"$PY" "$here/lake_files.py" "$work/lake" --max-files-per-partition 20 \
  --closed date=2026-01-05 --closed-small-bytes $((32 << 20)) >"$work/files.json" ||
  { cat "$work/files.json" >&2; fail "files per date partition beyond their bound"; }
ok "files: at most 20 data files per date partition; the closed day is compacted"

"$PY" - "$work/lake" "$retention" "$end" "$slack" <<'EOF'
import os, sys
lake, retention, end, slack = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
# lake::CleanupLog keeps the log from the newest checkpoint older than the retention: no older
# checkpoint and no commit before it may outlive the retention (plus the slack of the last pass).
old = end - retention - slack
bad = []
for t in sorted(os.listdir(lake)):
    log = os.path.join(lake, t, "_delta_log")
    if not os.path.isdir(log):
        continue
    names = os.listdir(log)
    stale = [n for n in names if n[0].isdigit() and os.path.getmtime(os.path.join(log, n)) < old]
    ckpts = [int(n.split(".")[0]) for n in stale if n.endswith(".checkpoint.parquet")]
    start = max(ckpts, default=0)
    early = sorted(n for n in stale if int(n.split(".")[0]) < start)
    if early or len(stale) > 11:
        bad.append(f"{t}: the log should start at the checkpoint {start}, yet {len(stale)} objects outlived the "
                   f"retention: {early[:3] or sorted(stale)[:3]}")
    print(f"{t}: {len(names)} _delta_log objects, {len(stale)} older than the retention (from version {start})")
if bad:
    sys.exit("\n".join(bad))
EOF
ok "log: only the last checkpoint's few commits outlive the log retention"

# A data file no snapshot references may stay while a snapshot within the vacuum retention still
# does: its remove action (deletionTimestamp) is then younger than the retention.
"$PY" - "$work/lake" "$retention" "$end" "$slack" <<'EOF'
import json, os, sys
from deltalake import DeltaTable
lake, retention, end, slack = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
old_ms = (end - retention - slack) * 1000
bad = []
for t in sorted(os.listdir(lake)):
    path = os.path.join(lake, t)
    log = os.path.join(path, "_delta_log")
    if not os.path.isdir(log):
        continue
    removed = {}
    for n in os.listdir(log):
        if n.endswith(".json"):
            for line in open(os.path.join(log, n)):
                r = json.loads(line).get("remove")
                if r:
                    removed[os.path.normpath(r["path"])] = r.get("deletionTimestamp", 0)
    live = {os.path.realpath(u.removeprefix("file://")) for u in DeltaTable(path).file_uris()}
    for d, _, names in os.walk(path):
        if "_delta_log" in d:
            continue
        for n in names:
            f = os.path.realpath(os.path.join(d, n))
            rel = os.path.normpath(os.path.relpath(f, path))
            if n.endswith(".parquet") and f not in live and removed.get(rel, 0) < old_ms:
                bad.append(f"{t}/{rel}")
if bad:
    sys.exit(f"{len(bad)} data files that no snapshot within the vacuum retention references, e.g. {bad[:3]}")
EOF
ok "vacuum: no unreferenced data file older than the vacuum retention"

"$smartcity" simulate "${city[@]}" --summary-json "$work/sim.json" -q >/dev/null
"$PY" "$here/lake_check.py" "$work/lake" --check >"$work/rows.txt" || fail "lake check failed"
"$PY" - "$work/sim.json" "$work/rows.txt" <<'EOF'
import json, sys
sim = json.load(open(sys.argv[1]))["topics"]
rows = dict(kv.split("=") for kv in open(sys.argv[2]).read().split())
bad = [f"{t}: {rows.get(t)} rows, {c['generated']} generated" for t, c in sim.items()
       if int(rows.get(t, -1)) != c["generated"]]
if int(rows["_dead_letters"]) != 0 or int(rows["_late_events"]) != 0:
    bad.append(f"dead letters {rows['_dead_letters']}, late {rows['_late_events']}: expected none")
print(" ".join(f"{k}={v}" for k, v in rows.items()))
if bad:
    sys.exit("\n".join(bad))
EOF
ok "rows: each generated event once in its raw table; enriched_data equals the SPEC join"

"$PY" "$here/warehouse_compare.py" "$work/lake" enriched_data "duckdb:$work/warehouse.duckdb" ||
  fail "the warehouse differs from the lake"
ok "warehouse: enriched_data holds exactly the lake's rows"
finish
