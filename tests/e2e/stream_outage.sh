#!/usr/bin/env bash
# smartcity stream --stop-when-idle while the Kafka cluster is down, against a real Apache Kafka
# (scripts/kafka.sh, one node: killing it takes the whole cluster away).
#
#  1. The first half of the input is in Kafka. A bounded run (`stream --stop-when-idle 8s --final`)
#     reads it and catches up (lag 0). Then the broker is killed (SIGKILL), and the producer of the
#     second half starts: it waits for the cluster. 15 s later, longer than the idle time, the broker
#     is back and the producer writes the second half. The silence of the outage is not idleness:
#     the run must not stop and flush with --final halfway (which is what it did when the ends it had
#     seen before the outage counted as the lag), its progress lines say "lag ?" while the cluster
#     is away, and it stops only once it has read the second half. Its lake must equal a clean
#     drain of the whole input (a reference run afterwards), table by table.
#  2. The same with the broker away for longer than --unavailable-timeout: the run fails with one
#     clear message and a non-zero exit, without a final flush (summary "stopped": "error").
#
# Usage: tests/e2e/stream_outage.sh path/to/smartcity
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bin=$(realpath "${1:?usage: stream_outage.sh path/to/smartcity}")
digest_bin=${SMARTCITY_LAKE_DIGEST:-$(dirname "$bin")/../lake/lake_digest}
kafka="$root/scripts/kafka.sh"
workdir outage
python_env
kdir="$work/kafka"

start_kafka "$kdir"
echo "# Kafka at $bootstrap"
"$bin" topics create --partitions 4 >/dev/null

# The watermark depends only on the events (a silent input holds it back for 1h), so runs that read
# the input in other steps compute the same join. Clients retry a lost broker every second at most,
# so both the run and the producer are back within a second or two of the broker.
retry=(-X reconnect.backoff.max.ms=1000)
common=(--idle-timeout 1h --no-serve --trigger 1s "${retry[@]}")
half() {  # half SEED START [simulate options]: 10 minutes of input (event time) from START
  local seed=$1 start=$2
  shift 2
  "$bin" simulate --kafka --vehicles 20 --seed "$seed" --incident-rate 2 --duration 10m \
    --start "$start" -q "$@"
}
digest() { "$PY" "$root/tests/e2e/lake_digest.py" "$1" "$digest_bin"; }
field() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
caught_up() { grep -qsE '^stream \| [1-9][0-9]*k? events .*\| lag 0 \|' "$1"; }

half 7 2026-01-05T07:00:00Z

# ---- 1. an outage longer than the idle time, the producer held up by it --------------------------
"$bin" stream "${common[@]}" --group outage --lake "$work/outage" --stop-when-idle 8s --final \
  --summary-json "$work/outage.json" >"$work/outage.log" 2>&1 &
pid=$!
track "$pid"
wait_for 120 caught_up "$work/outage.log" || fail "the run never caught up: $(tail -3 "$work/outage.log")"
"$kafka" kill-node --dir "$kdir" --node 1
at_kill=$(wc -l <"$work/outage.log")
echo "# broker killed; the run had caught up: $(grep '^stream |' "$work/outage.log" | tail -1 | cut -c1-60)"
half 8 2026-01-05T07:10:00Z --connect-timeout 90s "${retry[@]}" >"$work/half2.log" 2>&1 &
producer=$!
track "$producer"
sleep 15
kill -0 "$pid" 2>/dev/null ||
  fail "the run stopped while the broker was down (a --final flush halfway): $(tail -5 "$work/outage.log")"
ok "the run does not stop while the broker is down (15 s, idle time 8 s)"
check "progress lines say the lag is unknown while the broker is down" \
  grep -q '| lag ? |' <(tail -n +"$((at_kill + 1))" "$work/outage.log")
"$kafka" start-node --dir "$kdir" --node 1 >/dev/null
echo "# broker back"
rc=0
wait "$producer" || rc=$?
[ "$rc" = 0 ] || fail "the producer of the second half failed (exit $rc): $(tail -5 "$work/half2.log")"
rc=0
wait "$pid" || rc=$?
[ "$rc" = 0 ] || fail "the run failed after the outage (exit $rc): $(tail -5 "$work/outage.log")"
[ "$(field "$work/outage.json" stopped)" = idle ] || fail "the run did not stop idle: $(cat "$work/outage.json")"

"$bin" stream "${common[@]}" --group ref --lake "$work/ref" --stop-when-idle 3s --final -q
digest "$work/ref" >"$work/ref.digest" || fail "reference lake: readers disagree or duplicates"
digest "$work/outage" >"$work/outage.digest" || fail "outage lake: readers disagree, duplicates or missing files"
cmp -s "$work/ref.digest" "$work/outage.digest" || {
  show_diff <(tr ',' '\n' <"$work/ref.digest") <(tr ',' '\n' <"$work/outage.digest")
  fail "the lake of the run through the outage differs from a clean drain"
}
ok "after the outage the run read the second half and stopped: every table equals a clean drain"

# ---- 2. an outage longer than --unavailable-timeout ----------------------------------------------
"$bin" stream "${common[@]}" --group down --lake "$work/down" --stop-when-idle 60s --final \
  --unavailable-timeout 6s --summary-json "$work/down.json" >"$work/down.log" 2>&1 &
pid=$!
track "$pid"
wait_for 120 caught_up "$work/down.log" || fail "the run never caught up: $(tail -3 "$work/down.log")"
"$kafka" kill-node --dir "$kdir" --node 1
timeout 120 tail --pid="$pid" -f /dev/null || fail "the run did not give up within 120 s of the outage"
rc=0
wait "$pid" || rc=$?
"$kafka" start-node --dir "$kdir" --node 1 >/dev/null
[ "$rc" != 0 ] || fail "the run exited 0 although the cluster was unreachable: $(tail -5 "$work/down.log")"
[ "$(field "$work/down.json" stopped)" = error ] || fail "the run did not stop on the error: $(cat "$work/down.json")"
errors=$(grep -c "cannot reach Kafka" "$work/down.log" || true)
[ "$errors" = 1 ] || fail "want one 'cannot reach Kafka' message, got $errors: $(tail -5 "$work/down.log")"
ok "an outage past --unavailable-timeout: exit $rc, one clear message ($(grep -m1 'cannot reach Kafka' "$work/down.log" | cut -c1-100)...), no final flush"

finish
