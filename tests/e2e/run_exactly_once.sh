#!/usr/bin/env bash
# smartcity run (simulator -> in-process transport -> processor -> local Delta lake): a clean run, a
# run interrupted with SIGINT and resumed, and runs killed with SIGKILL 20 times (at random moments and
# inside commits) and restarted all end with exactly the same rows in every table, as three readers see it.
set -euo pipefail
smartcity=$(realpath "$1")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
opts=(--duration 15m --vehicles 25 --incident-rate 6 --seed 11
      --fault duplicate=0.01 --fault malformed=0.005 --fault reorder=0.01@5s)

root=${SMARTCITY_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
digest_bin=${SMARTCITY_LAKE_DIGEST:-$(dirname "$smartcity")/../lake/lake_digest}
PY=$("$root/scripts/pyenv.sh")
# Per table, as three readers (ours, Python deltalake, DuckDB's delta extension) see it: they must
# agree, no record twice, every referenced file present (tests/e2e/lake_digest.py).
count_rows() {
  "$PY" "$root/tests/e2e/lake_digest.py" "$1" "$digest_bin"
}

"$smartcity" run "${opts[@]}" --speedup max --lake "$work/clean" --trigger 1s -q
want=$(count_rows "$work/clean")
echo "clean run: $want"
case "$want" in *'"enriched_data": {"hash": "0"'*|*'"vehicle_data": {"hash": "0"'*) echo "FAIL: the clean run landed nothing"; exit 1 ;; esac

# SIGINT mid-run, then resume.
"$smartcity" run "${opts[@]}" --speedup 300 --lake "$work/int" --trigger 1s -q &
pid=$!
sleep 2
kill -INT $pid
wait $pid
"$smartcity" run "${opts[@]}" --speedup max --lake "$work/int" --trigger 1s -q
got=$(count_rows "$work/int")
[ "$got" = "$want" ] || { echo "FAIL after SIGINT+resume: $got != $want"; exit 1; }
echo "SIGINT + resume: identical"

# SIGKILL 20 times: at random moments and at exact steps of the commit protocol (a table's Delta
# commit, the offsets log, a checkpoint, a data file), small trigger so there are many commits.
points=("put-if-absent:_delta_log" "put-if-absent:/offsets/" "put-if-absent:/state/" "put-file:" "delete:_checkpoints")
for i in $(seq 1 20); do
  if (( i % 2 == 1 )); then
    "$smartcity" run "${opts[@]}" --speedup max --lake "$work/kill" --trigger 100ms -q &
    pid=$!
    sleep "$(awk -v s="$RANDOM" 'BEGIN { srand(s); printf "%.2f", 0.2 + rand() * 1.3 }')"
    kill -9 $pid 2>/dev/null || true
    wait $pid 2>/dev/null || true
  else
    point=${points[$(( (i / 2) % ${#points[@]} ))]}
    after=$([ $(( RANDOM % 2 )) = 0 ] && echo ":after" || true)
    SMARTCITY_CRASH_POINT="${point}:$(( 1 + RANDOM % 15 ))${after}" \
      "$smartcity" run "${opts[@]}" --speedup max --lake "$work/kill" --trigger 100ms -q 2>/dev/null || true
  fi
done
"$smartcity" run "${opts[@]}" --speedup max --lake "$work/kill" --trigger 1s -q
got=$(count_rows "$work/kill")
[ "$got" = "$want" ] || { echo "FAIL after SIGKILLs: $got != $want"; exit 1; }
echo "20 x SIGKILL (random moments and inside commits) + restart: identical, as three readers see it"
echo "run_exactly_once: 3 passed, 0 failed"
