#!/usr/bin/env bash
# smartcity stream against a real Apache Kafka (scripts/kafka.sh): records with absurd event times
# (a broken clock) in the middle of a live stream (docs/processor.md, "Implausible event times").
#
#  1. The simulator loads the five topics; a reference `stream` run drains them into a clean lake.
#  2. tests/e2e/kafka_copy.py copies the first half of every partition into p_* topics, then adds
#     three poisoned copies: a vehicle_data record dated 2100, a weather_data record dated 1970 and
#     an emergency_data record (a sparse input) dated 2100.
#  3. A live `stream` run on the p_* topics catches up and is killed (SIGKILL) while it holds the
#     poisoned records (no later record of their partitions has arrived: they are in no table yet);
#     the second half is copied; a run is killed right after its first offsets log write; a last run
#     replays that epoch and finishes the input.
#  4. Every raw table and enriched_data equal the clean lake's (by content), `_late_events` too, and
#     `_dead_letters` holds exactly the three poisoned records, each once, with its reason; the run
#     summary counts them.
#
# Usage: tests/e2e/stream_poison.sh path/to/smartcity
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bin=$(realpath "${1:?usage: stream_poison.sh path/to/smartcity}")
workdir poison
python_env

start_kafka "$work/kafka"
echo "# Kafka at $bootstrap"
"$bin" topics create --partitions 3 >/dev/null
poisoned=()
for s in vehicle gps traffic weather emergency; do poisoned+=(--"$s"-topic "p_${s}_data"); done
"$bin" topics create --partitions 3 "${poisoned[@]}" >/dev/null

# A silent input never stops holding the watermark back (idle timeout 1h): the watermark then
# depends only on the events, so the clean and the poisoned runs compute the same join.
common=(--idle-timeout 1h --no-serve)

"$bin" simulate --kafka --duration 20m --vehicles 9 --seed 11 --incident-rate 20 -q
"$bin" stream "${common[@]}" --group clean --lake "$work/clean" --trigger 1s --stop-when-idle 3s --final -q
ok "reference run on the clean topics"

"$PY" "$root/tests/e2e/kafka_copy.py" "$bootstrap" p_ "$work/state.json" first
run=(stream "${common[@]}" "${poisoned[@]}" --group poisoned --lake "$work/poisoned"
     -X group.instance.id=poison-member -X session.timeout.ms=6000)

# A live run: it reads the first half and the poisoned records, then waits for more.
"$bin" "${run[@]}" --trigger 300ms >"$work/live.log" 2>&1 &
pid=$!
track "$pid"
# Caught up: a progress line that has read records and has none left to read.
caught_up() { grep -qE "^stream \| [1-9][0-9]*k? events .*\| lag 0 \|" "$work/live.log"; }
wait_for 120 caught_up || fail "the live run never caught up: $(tail -3 "$work/live.log")"
sleep 3  # a few more epochs: the held records are in the committed state checkpoint
kill9 "$pid" "the live run ($(tail -2 "$work/live.log"))"
"$PY" - "$work/poisoned" <<'PY' || fail "the held records reached a table before their partitions went on"
import sys
from deltalake import DeltaTable
lake = sys.argv[1]
for t in ["vehicle_data", "weather_data", "emergency_data", "_dead_letters"]:
    try:
        tab = DeltaTable(f"{lake}/{t}").to_pyarrow_table()
    except Exception:
        continue
    if t == "_dead_letters":
        if tab.num_rows:
            sys.exit(f"_dead_letters: {tab.num_rows} rows")
    elif any(ts.year in (1970, 2100) for ts in tab.column("timestamp").to_pylist()):
        sys.exit(f"{t} holds a poisoned record")
print("held records: in no table while their partitions have nothing after them")
PY
ok "killed (SIGKILL) while holding the poisoned records"

"$PY" "$root/tests/e2e/kafka_copy.py" "$bootstrap" p_ "$work/state.json" second
# Killed right after its first offsets log entry (before any lake commit or state checkpoint of
# this process): the restart re-runs that epoch exactly, so the final run decides on the held
# records again and reports them.
crash_run "put-if-absent:/offsets/:1:after" "$work/crash.log" timeout -k 10 60 "$bin" "${run[@]}" --trigger 300ms -q
ok "killed after an offsets log write, once the rest of the input had arrived"
"$bin" "${run[@]}" --trigger 1s --stop-when-idle 3s --final >"$work/final.log" 2>&1 ||
  fail "the final run failed: $(tail -5 "$work/final.log")"
expect_in "$work/final.log" "3 records quarantined for an implausible event time (in _dead_letters)"
ok "the final run's summary reports the 3 quarantined records"

"$PY" "$root/tests/e2e/poison_check.py" "$work/clean" "$work/poisoned" "$work/state.json" ||
  fail "the poisoned lake is not the clean one plus three quarantined records"
ok "every other record is joined as in the clean run; the 3 poisoned ones are in _dead_letters once, with their reason"

finish
