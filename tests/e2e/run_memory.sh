#!/usr/bin/env bash
# smartcity run in bounded memory: with the default --memory-limit, a run twice as long (in city
# time, 100 vehicles, --speedup max, the warehouse follower on) peaks at no more resident memory than
# the shorter one, give or take a margin, and stays under the limit; and the bounded run lands the
# same rows as a run whose limit bounds nothing (three readers agree: tests/e2e/lake_digest.py).
#
# Usage: run_memory.sh SMARTCITY
set -euo pipefail
. "$(dirname "$0")/lib.sh"
smartcity=$(realpath "$1")
workdir run-memory
python_env
digest_bin=${SMARTCITY_LAKE_DIGEST:-$(dirname "$smartcity")/../lake/lake_digest}

limit_mib=256  # the default --memory-limit (src/cli/pipeline_options.h)
# Percent: the longer run may peak this much above the shorter one. Measured: +4..8% (230 -> 240-248
# MiB; allocator noise plus the Delta tables' file lists, which grow until compaction merges files);
# before the limit existed the same two runs grew by 47% (778 -> 1144 MiB).
margin=15

# Peak RSS (KiB) of a child run, from getrusage(RUSAGE_CHILDREN); its output goes to $work/$1.log.
peak_rss() {
  local name=$1
  shift
  "$PY" - "$work/$name.log" "$@" <<'EOF'
import resource, subprocess, sys
with open(sys.argv[1], "w") as log:
    code = subprocess.run(sys.argv[2:], stdout=log, stderr=subprocess.STDOUT).returncode
if code != 0:
    sys.exit(f"exit status {code}")
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
EOF
}

opts=(--vehicles 100 --speedup max --no-serve -q --seed 5)
short=$(peak_rss short "$smartcity" run "${opts[@]}" --duration 60m --lake "$work/short") ||
  { cat "$work/short.log" >&2; fail "the 60 min run failed"; }
long=$(peak_rss long "$smartcity" run "${opts[@]}" --duration 120m --lake "$work/long") ||
  { cat "$work/long.log" >&2; fail "the 120 min run failed"; }
echo "peak RSS: 60 min of city time $((short / 1024)) MiB, 120 min $((long / 1024)) MiB (limit $limit_mib MiB)"
check "the run twice as long peaks within ${margin}% of the shorter one" \
  test "$long" -le $((short * (100 + margin) / 100))
check "the longer run stays under --memory-limit" test "$long" -le $((limit_mib * 1024))
check "nothing went wrong beside the pipeline (warehouse follower)" \
  bash -c "! grep -q . '$work/long.log'"

# The same city with a limit that bounds nothing (one epoch per run, as before the limit existed).
"$smartcity" run "${opts[@]}" --duration 120m --lake "$work/unbounded" --memory-limit 65536 \
  --warehouse none
bounded=$("$PY" "$root/tests/e2e/lake_digest.py" "$work/long" "$digest_bin")
unbounded=$("$PY" "$root/tests/e2e/lake_digest.py" "$work/unbounded" "$digest_bin")
echo "bounded:   $bounded"
echo "unbounded: $unbounded"
check "the bounded run lands exactly the rows of the unbounded one" test "$bounded" = "$unbounded"
finish
