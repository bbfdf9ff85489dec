#!/usr/bin/env bash
# smartcity run (simulator -> in-process transport -> processor -> local Delta lake): a clean run, a
# run interrupted with SIGINT and resumed, and runs killed with SIGKILL at several moments and
# restarted all end with exactly the same committed rows in every table.
#
# Usage: run_exactly_once.sh SMARTCITY [local|s3]
#   s3: the interrupted and killed runs write to $S3_LAKE_ROOT/<run> (s3://bucket/prefix on the server
#   that AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY name; tests/e2e/s3_lake.sh sets
#   them up), and the Python deltalake package reads them back from the server (tests/e2e/lake_check.py:
#   no duplicate input record, enriched_data equals the batch join) to compare with a clean local run.
set -euo pipefail
smartcity=$1
mode=${2:-local}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
kill_delays="0.3 0.6 0.9 1.3"
if [ "$mode" = s3 ]; then
  : "${S3_LAKE_ROOT:?s3 mode needs S3_LAKE_ROOT=s3://bucket/prefix}"
  PY=$("$here/../../scripts/pyenv.sh")
  kill_delays="0.5 1.2 2 3"  # each start opens the lake over HTTP first
fi
lake_of() { if [ "$mode" = s3 ]; then echo "$S3_LAKE_ROOT/$1"; else echo "$work/$1"; fi; }
opts=(--duration 15m --vehicles 25 --incident-rate 6 --seed 11
      --fault duplicate=0.01 --fault malformed=0.005 --fault reorder=0.01@5s)

# Rows per table as a Delta reader sees them: replay the JSON log (add minus remove), sum numRecords.
count_rows() {
  python3 - "$1" <<'PY'
import glob, json, os, sys
lake = sys.argv[1]
out = []
for t in sorted(os.listdir(lake)):
    if t.startswith("_checkpoints") or not os.path.isdir(os.path.join(lake, t, "_delta_log")):
        continue
    files = {}
    for f in sorted(glob.glob(os.path.join(lake, t, "_delta_log", "*.json"))):
        for line in open(f):
            a = json.loads(line)
            if "add" in a:
                files[a["add"]["path"]] = json.loads(a["add"]["stats"])["numRecords"]
            if "remove" in a:
                files.pop(a["remove"]["path"], None)
    missing = [p for p in files if not os.path.exists(os.path.join(lake, t, p))]
    if missing:
        sys.exit(f"{t}: committed files missing on disk: {missing[:3]}")
    out.append(f"{t}={sum(files.values())}")
print(" ".join(out))
PY
}

# The rows of a lake as a Delta reader sees them (on S3: the deltalake package, which also checks
# duplicates and the join oracle).
lake_rows() { if [ "$mode" = s3 ]; then "$PY" "$here/lake_check.py" "$1" --check; else count_rows "$1"; fi; }

"$smartcity" run "${opts[@]}" --speedup max --lake "$work/clean" --trigger 1s -q
if [ "$mode" = s3 ]; then
  want=$("$PY" "$here/lake_check.py" "$work/clean" --check)  # the same reader on both sides
else
  want=$(count_rows "$work/clean")
fi
echo "clean run: $want"
case "$want" in *enriched_data=0*|*vehicle_data=0*) echo "FAIL: the clean run landed nothing"; exit 1 ;; esac

# SIGINT mid-run, then resume.
"$smartcity" run "${opts[@]}" --speedup 300 --lake "$(lake_of int)" --trigger 1s -q &
pid=$!
sleep 2
kill -INT $pid
wait $pid
"$smartcity" run "${opts[@]}" --speedup max --lake "$(lake_of int)" --trigger 1s -q
got=$(lake_rows "$(lake_of int)")
[ "$got" = "$want" ] || { echo "FAIL after SIGINT+resume: $got != $want"; exit 1; }
echo "SIGINT + resume: identical"

# SIGKILL at several moments (small trigger: many commits to be killed in), then finish.
for delay in $kill_delays; do
  "$smartcity" run "${opts[@]}" --speedup max --lake "$(lake_of kill)" --trigger 100ms -q &
  pid=$!
  sleep "$delay"
  kill -9 $pid 2>/dev/null || true
  wait $pid 2>/dev/null || true
done
"$smartcity" run "${opts[@]}" --speedup max --lake "$(lake_of kill)" --trigger 1s -q
got=$(lake_rows "$(lake_of kill)")
[ "$got" = "$want" ] || { echo "FAIL after SIGKILLs: $got != $want"; exit 1; }
echo "4 x SIGKILL + restart: identical"
echo "run_exactly_once ($mode lake): 3 passed, 0 failed"
