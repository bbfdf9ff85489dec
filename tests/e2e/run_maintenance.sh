#!/usr/bin/env bash
# smartcity run with lake maintenance on (compaction, log clean-up, vacuum while streaming; short
# retentions so that all three act within the run): 2 hours of city time across midnight, paced, a
# 100 ms trigger. Every table must read back (ours, Python deltalake, DuckDB: tests/e2e/lake_digest.py)
# equal to the same run with maintenance off; the files per date partition and the _delta_log objects
# must stay within their bounds during the run and after it (tests/e2e/lake_files.py, which reads
# with deltalake), where the run without maintenance exceeds them. Then kill -9 inside maintenance
# steps (a compaction's file upload, a log clean-up delete, a vacuum delete: each crash point must
# fire) and restart: the same rows again.
#
# Usage: run_maintenance.sh SMARTCITY
set -euo pipefail
. "$(dirname "$0")/lib.sh"
smartcity=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
workdir maintenance
python_env
digest_bin=${SMARTCITY_LAKE_DIGEST:-$(dirname "$smartcity")/../lake/lake_digest}
digest() { "$PY" "$here/lake_digest.py" "$1" "$digest_bin"; }

# 2 h of city time in about 14 s, across midnight (the Jan 5 partitions close on the way).
opts=(--duration 2h --start 2026-01-05T23:00:00Z --vehicles 20 --seed 5 --fault duplicate=0.01
      --trigger 100ms --speedup 500 --no-serve --warehouse none -q)
fast=(--maintenance on --maintenance-interval 200ms --vacuum-retention 2s --log-retention 2s)
# A pass runs every 200 ms and a commit lands every 100 ms: an open partition may hold the cap (16)
# plus what was committed while a pass ran.
max_files=20
max_log=60

"$smartcity" run "${opts[@]}" --maintenance off --lake "$work/off"
want=$(digest "$work/off")
case "$want" in *'"enriched_data": {"hash": "0"'*) fail "the run without maintenance landed nothing" ;; esac
run_status rc "$PY" "$here/lake_files.py" "$work/off" --max-files-per-partition "$max_files" \
  --max-log-objects "$max_log"
[ "$rc" != 0 ] || fail "without maintenance the lake is within the bounds too: the run is too short to test them"
ok "without maintenance: beyond the bounds"

"$smartcity" run "${opts[@]}" "${fast[@]}" --lake "$work/on" &
pid=$!
track "$pid"
sleep 8
mid=$("$PY" "$here/lake_files.py" "$work/on" --max-files-per-partition "$max_files" \
  --max-log-objects "$max_log") || fail "mid-run: bounds exceeded: $mid"
echo "mid-run: $mid"
run_status rc wait "$pid"
[ "$rc" = 0 ] || fail "the run with maintenance exited $rc"
# The closed day (Jan 5: the watermark has passed midnight) is one file in every table.
end=$("$PY" "$here/lake_files.py" "$work/on" --max-files-per-partition "$max_files" \
  --max-log-objects "$max_log" --closed date=2026-01-05) || fail "after the run: bounds exceeded: $end"
echo "after the run: $end"
got=$(digest "$work/on")
[ "$got" = "$want" ] || fail "with maintenance: $got != $want"
ok "maintenance on: every table equals the run without it; files and log objects bounded"

# kill -9 inside maintenance steps, then restart, until the run completes.
points=("put-file:.compact.:1" "put-file:.compact.:2:after" "delete:_delta_log/:1" "delete:_delta_log/:3:after"
        "delete:.parquet:1" "delete:.parquet:2:after")
for i in "${!points[@]}"; do
  crash_run "${points[$i]}" "$work/kill-$i.log" \
    "$smartcity" run "${opts[@]}" "${fast[@]}" --lake "$work/kill"
done
"$smartcity" run "${opts[@]}" "${fast[@]}" --lake "$work/kill"
got=$(digest "$work/kill")
[ "$got" = "$want" ] || fail "after kills during maintenance: $got != $want"
"$PY" "$here/lake_files.py" "$work/kill" --max-files-per-partition "$max_files" --max-log-objects "$max_log" >/dev/null ||
  fail "after kills during maintenance: bounds exceeded"
ok "${#points[@]} x kill -9 inside compaction, log clean-up and vacuum + restart: identical"
finish
