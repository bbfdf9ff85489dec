#!/usr/bin/env bash
# smartcity run (simulator -> in-process transport -> processor -> local Delta lake): a clean run, a
# run interrupted with SIGINT and resumed, and runs killed with SIGKILL 20 times (at random moments and
# inside commits) and restarted all end with exactly the same rows in every table, as three readers
# see it (local lakes) or as the deltalake package reads it from the server (S3 lakes).
#
# Usage: run_exactly_once.sh SMARTCITY [local|s3]
#   s3: the interrupted and killed runs write to $S3_LAKE_ROOT/<run> (s3://bucket/prefix on the server
#   that AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY name; tests/e2e/s3_lake.sh sets
#   them up), and the Python deltalake package reads them back from the server (tests/e2e/lake_check.py:
#   no duplicate input record, enriched_data equals the batch join) to compare with a clean local run.
set -euo pipefail
smartcity=$(realpath "$1")
mode=${2:-local}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
kill_min=0.2 kill_span=1.3  # random kill moments: kill_min + [0, kill_span) seconds after start
if [ "$mode" = s3 ]; then
  : "${S3_LAKE_ROOT:?s3 mode needs S3_LAKE_ROOT=s3://bucket/prefix}"
  kill_min=0.5 kill_span=2.5  # each start opens the lake over HTTP first
fi
lake_of() { if [ "$mode" = s3 ]; then echo "$S3_LAKE_ROOT/$1"; else echo "$work/$1"; fi; }
opts=(--duration 15m --vehicles 25 --incident-rate 6 --seed 11
      --fault duplicate=0.01 --fault malformed=0.005 --fault reorder=0.01@5s)
# run's warehouse follower on S3: one DuckDB file per lake in $work, as beside a local lake (an S3
# lake's default is ./smartcity-warehouse.duckdb, which the lakes here would share). Unquoted use.
wh_of() { if [ "$mode" = s3 ]; then echo "--warehouse=duckdb:$work/$1-warehouse.duckdb"; fi; }

root=${SMARTCITY_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
digest_bin=${SMARTCITY_LAKE_DIGEST:-$(dirname "$smartcity")/../lake/lake_digest}
PY=$("$root/scripts/pyenv.sh")
# Per table, as three readers (ours, Python deltalake, DuckDB's delta extension) see it: they must
# agree, no record twice, every referenced file present (tests/e2e/lake_digest.py).
count_rows() {
  "$PY" "$root/tests/e2e/lake_digest.py" "$1" "$digest_bin"
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
case "$want" in *'"enriched_data": {"hash": "0"'*|*'"vehicle_data": {"hash": "0"'*) echo "FAIL: the clean run landed nothing"; exit 1 ;; esac

# SIGINT mid-run, then resume.
"$smartcity" run "${opts[@]}" --speedup 300 --lake "$(lake_of int)" $(wh_of int) --trigger 1s -q &
pid=$!
sleep 2
kill -INT $pid
wait $pid
"$smartcity" run "${opts[@]}" --speedup max --lake "$(lake_of int)" $(wh_of int) --trigger 1s -q
got=$(lake_rows "$(lake_of int)")
[ "$got" = "$want" ] || { echo "FAIL after SIGINT+resume: $got != $want"; exit 1; }
echo "SIGINT + resume: identical"

# SIGKILL 20 times: at random moments and at exact steps of the commit protocol (a table's Delta
# commit, the offsets log, a checkpoint, a data file), small trigger so there are many commits.
points=("put-if-absent:_delta_log" "put-if-absent:/offsets/" "put-if-absent:/state/" "put-file:" "delete:_checkpoints")
for i in $(seq 1 20); do
  if (( i % 2 == 1 )); then
    "$smartcity" run "${opts[@]}" --speedup max --lake "$(lake_of kill)" $(wh_of kill) --trigger 100ms -q &
    pid=$!
    sleep "$(awk -v s="$RANDOM" -v m="$kill_min" -v d="$kill_span" 'BEGIN { srand(s); printf "%.2f", m + rand() * d }')"
    kill -9 $pid 2>/dev/null || true
    wait $pid 2>/dev/null || true
  else
    point=${points[$(( (i / 2) % ${#points[@]} ))]}
    after=$([ $(( RANDOM % 2 )) = 0 ] && echo ":after" || true)
    SMARTCITY_CRASH_POINT="${point}:$(( 1 + RANDOM % 15 ))${after}" \
      "$smartcity" run "${opts[@]}" --speedup max --lake "$(lake_of kill)" $(wh_of kill) --trigger 100ms -q 2>/dev/null || true
  fi
done
"$smartcity" run "${opts[@]}" --speedup max --lake "$(lake_of kill)" $(wh_of kill) --trigger 1s -q
got=$(lake_rows "$(lake_of kill)")
[ "$got" = "$want" ] || { echo "FAIL after SIGKILLs: $got != $want"; exit 1; }
echo "20 x SIGKILL (random moments and inside commits) + restart: identical"
echo "run_exactly_once ($mode lake): 3 passed, 0 failed"
