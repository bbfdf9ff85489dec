#!/usr/bin/env bash
# smartcity run (simulator -> in-process transport -> processor -> local Delta lake): a clean run, a
# run interrupted with SIGINT and resumed, and runs killed with SIGKILL 20 times (at random moments and
# inside commits) and restarted all end with exactly the same rows in every table, as three readers
# see it (local lakes) or as the deltalake package reads it from the server (S3 lakes). Every kill
# must land on a running run and every crash point must fire (tests/e2e/lib.sh: kill9, crash_run).
#
# Usage: run_exactly_once.sh SMARTCITY [local|s3]
#   s3: the interrupted and killed runs write to $S3_LAKE_ROOT/<run> (s3://bucket/prefix on the server
#   that AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY name; tests/e2e/s3_lake.sh sets
#   them up), and the Python deltalake package reads them back from the server (tests/e2e/lake_check.py:
#   no duplicate input record, enriched_data equals the batch join) to compare with a clean local run.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
smartcity=$(realpath "$1")
mode=${2:-local}
here=$(cd "$(dirname "$0")" && pwd)
workdir run
kill_min=0.2 kill_span=1.3  # random kill moments: kill_min + [0, kill_span) seconds after start
# The killed runs are paced (15 simulated minutes in 60 s; a restart regenerates what the lake holds
# unpaced, then goes on paced): every run then still has work when its kill or crash point comes (at
# --speedup max a whole run takes about a second, and a restart far less), and a 100 ms trigger
# gives each run many commits, so every crash point below is reached (n <= 15 within a few epochs).
kill_speedup=15
if [ "$mode" = s3 ]; then
  : "${S3_LAKE_ROOT:?s3 mode needs S3_LAKE_ROOT=s3://bucket/prefix}"
  kill_min=0.5 kill_span=2.5  # each start opens the lake over HTTP first
  kill_speedup=6              # and each commit takes longer
fi
lake_of() { if [ "$mode" = s3 ]; then echo "$S3_LAKE_ROOT/$1"; else echo "$work/$1"; fi; }
opts=(--no-serve --duration 15m --vehicles 25 --incident-rate 6 --seed 11
      --fault duplicate=0.01 --fault malformed=0.005 --fault reorder=0.01@5s)
# run's warehouse follower on S3: one DuckDB file per lake in $work, as beside a local lake (an S3
# lake's default is ./smartcity-warehouse.duckdb, which the lakes here would share). Unquoted use.
wh_of() { if [ "$mode" = s3 ]; then echo "--warehouse=duckdb:$work/$1-warehouse.duckdb"; fi; }

digest_bin=${SMARTCITY_LAKE_DIGEST:-$(dirname "$smartcity")/../lake/lake_digest}
python_env
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
case "$want" in *'"enriched_data": {"hash": "0"'*|*'"vehicle_data": {"hash": "0"'*) fail "the clean run landed nothing" ;; esac

# SIGINT mid-run, then resume.
"$smartcity" run "${opts[@]}" --speedup 300 --lake "$(lake_of int)" $(wh_of int) --trigger 1s -q &
pid=$!
track "$pid"
sleep 2
kill -INT $pid
run_status rc wait $pid
[ "$rc" = 0 ] || fail "the run interrupted with SIGINT exited $rc"
"$smartcity" run "${opts[@]}" --speedup max --lake "$(lake_of int)" $(wh_of int) --trigger 1s -q
got=$(lake_rows "$(lake_of int)")
[ "$got" = "$want" ] || fail "after SIGINT+resume: $got != $want"
ok "SIGINT + resume: identical"

# SIGKILL 20 times: at random moments and at exact steps of the commit protocol (a table's Delta
# commit, the offsets log, a checkpoint, a data file), small trigger so there are many commits. Each
# kill must land on a running process (exit 137) and each crash point must fire (crash_run: exit 137
# and its marker on stderr): a run that finished instead would test nothing.
points=("put-if-absent:_delta_log" "put-if-absent:/offsets/" "put-if-absent:/state/" "put-file:" "delete:_checkpoints")
for i in $(seq 1 20); do
  log="$work/kill-$i.log"
  if (( i % 2 == 1 )); then
    "$smartcity" run "${opts[@]}" --speedup $kill_speedup --lake "$(lake_of kill)" $(wh_of kill) --trigger 100ms -q \
      >"$log" 2>&1 &
    pid=$!
    track "$pid"
    sleep "$(awk -v s="$RANDOM" -v m="$kill_min" -v d="$kill_span" 'BEGIN { srand(s); printf "%.2f", m + rand() * d }')"
    kill9 "$pid" "run $i ($(tail -3 "$log"))"
  else
    point=${points[$(( (i / 2) % ${#points[@]} ))]}
    if (( RANDOM % 2 )); then after=:after; else after=; fi
    crash_run "${point}:$(( 1 + RANDOM % 15 ))${after}" "$log" \
      "$smartcity" run "${opts[@]}" --speedup $kill_speedup --lake "$(lake_of kill)" $(wh_of kill) --trigger 100ms -q
  fi
done
# On S3 the last run leaves its small files in place (no final compaction): s3_lake.sh then checks
# that a manual `compact` merges them.
last=()
if [ "$mode" = s3 ]; then last=(--maintenance off); fi
"$smartcity" run "${opts[@]}" "${last[@]}" --speedup max --lake "$(lake_of kill)" $(wh_of kill) --trigger 1s -q
got=$(lake_rows "$(lake_of kill)")
[ "$got" = "$want" ] || fail "after SIGKILLs: $got != $want"
ok "20 x SIGKILL (random moments and inside commits) + restart: identical"
finish
