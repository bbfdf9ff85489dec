#!/usr/bin/env bash
# smartcity stream against a real Apache Kafka (scripts/kafka.sh): exactly once through crashes.
#
#  1. The simulator loads the five topics (with malformed, wrong-typed, missing-field and oversize
#     events and duplicates). A reference `stream` run drains them into a lake.
#  2. Crash recovery: a `stream` process is killed (SIGKILL) at least 20 times and restarted each time,
#     half at random moments, half at exact steps of the commit protocol (SMARTCITY_CRASH_POINT: in
#     the middle of writing a table's commit, the offsets log, a checkpoint or a data file); a last run
#     finishes the input. Its lake must equal the reference, table by table.
#  3. Scale-out: two `stream` processes in one consumer group share the partitions; one is killed in
#     the middle of a commit while both hold 3 of the 6 partition groups; the other takes over its
#     partitions; the lake must equal the reference. A broker quota on the members' client id makes
#     them read the input over tens of seconds, whatever the machine's speed, and the crash point is
#     armed only once the test has seen both members share the partitions (SMARTCITY_CRASH_ARM).
#
# Every lake is read by three readers (tests/e2e/lake_digest.py: ours, Python deltalake, DuckDB's
# delta extension), which must agree; no table may hold a record twice; every referenced data file
# must exist; raw rows + dead letters per topic must equal the events Kafka acknowledged.
#
# Usage: tests/e2e/stream_exactly_once.sh path/to/smartcity
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bin=$(realpath "${1:?usage: stream_exactly_once.sh path/to/smartcity}")
digest_bin=${SMARTCITY_LAKE_DIGEST:-$(dirname "$bin")/../lake/lake_digest}
workdir stream
python_env

start_kafka "$work/kafka"
echo "# Kafka at $bootstrap"
"$bin" topics create --partitions 6 >/dev/null

# Options every stream run shares. A silent input never stops holding the watermark back (idle
# timeout 1h): the watermark then depends only on the events, so every run computes the same join.
# No live view: nothing here reads it, and two members must not contend for one port.
common=(--idle-timeout 1h --no-serve)

# No late or reordered events: then the result is the same whatever the epoch boundaries, so a lake
# built through crashes must equal the reference exactly. (Lateness is tested in src/pipeline/processor_test.cc.)
"$bin" simulate --kafka --duration 40m --vehicles 60 --seed 21 --incident-rate 3 \
  --fault duplicate=0.002 --fault malformed=0.002 --fault wrong-type=0.002 --fault missing-field=0.002 \
  --fault oversize=0.0005 --summary-json "$work/sim.json" -q
produced=$("$PY" -c 'import json,sys; print(sum(t["delivered"] for t in json.load(open(sys.argv[1]))["topics"].values()))' "$work/sim.json")
echo "# produced $produced events"

digest() {  # digest LAKE > json: the three readers agree, no duplicate keys, no missing file
  "$PY" "$root/tests/e2e/lake_digest.py" "$1" "$digest_bin"
}

check_counts() {  # check_counts DIGEST_JSON LAKE: raw + dead letters per topic == delivered per topic
  "$PY" "$root/tests/e2e/lake_counts.py" "$1" "$work/sim.json" "$2"
}

# ---- 1. reference --------------------------------------------------------------------------------
"$bin" stream "${common[@]}" --group ref --lake "$work/ref" --trigger 2s --stop-when-idle 3s --final \
  --summary-json "$work/ref.json" -q
digest "$work/ref" >"$work/ref.digest" || fail "reference lake: readers disagree or duplicates"
check_counts "$work/ref.digest" "$work/ref" || fail "reference lake counts"
ok "reference run: every event is in its raw table or _dead_letters once; three readers agree"

# ---- 2. crash recovery: >= 20 kills --------------------------------------------------------------
points=("put-if-absent:_delta_log" "put-if-absent:/offsets/" "put-if-absent:/state/" "put-file:" "delete:_checkpoints")
kills=0
for i in $(seq 1 24); do
  log="$work/kill-$i.log"
  if (( i % 2 == 1 )); then
    # A random moment: start-up, group join, reading, between or inside commits.
    "$bin" stream "${common[@]}" --group crash --lake "$work/kill" --trigger 200ms \
      -X group.instance.id=crash-member -X session.timeout.ms=6000 -q >"$log" 2>&1 &
    pid=$!
    track "$pid"
    sleep "$(awk -v s="$RANDOM" 'BEGIN { srand(s); printf "%.2f", 0.5 + rand() * 3.5 }')"
    kill9 "$pid" "run $i ($(tail -3 "$log"))"
  else
    # An exact step of the commit protocol, before or after the write. A stream run never ends on
    # its own (no --stop-when-idle): the timeout (TERM, exit 124) only bounds a crash point that
    # never comes, which crash_run then reports.
    point=${points[$(( (i / 2) % ${#points[@]} ))]}
    nth=$(( 1 + RANDOM % 12 ))
    if (( RANDOM % 2 )); then after=:after; else after=; fi
    crash_run "${point}:${nth}${after}" "$log" timeout -k 10 30 \
      "$bin" stream "${common[@]}" --group crash --lake "$work/kill" --trigger 200ms \
      -X group.instance.id=crash-member -X session.timeout.ms=6000 -q
  fi
  kills=$((kills + 1))
done
echo "# $kills kills; finishing"
"$bin" stream "${common[@]}" --group crash --lake "$work/kill" --trigger 2s --stop-when-idle 3s --final \
  -X group.instance.id=crash-member -X session.timeout.ms=6000 --summary-json "$work/kill.json" -q
digest "$work/kill" >"$work/kill.digest" || fail "crashed lake: readers disagree, duplicates or missing files"
cmp -s "$work/ref.digest" "$work/kill.digest" || {
  show_diff <(tr ',' '\n' <"$work/ref.digest") <(tr ',' '\n' <"$work/kill.digest")
  fail "after $kills kills the lake differs from the reference"
}
ok "$kills x SIGKILL (random moments and inside commits) + restart: every table equals the reference"

# ---- 3. scale-out: two members, one killed inside a commit -----------------------------------------
# Both members' client id shares a fetch quota: the input (about 60 MB) takes them at least 20 s.
"$root/scripts/kafka.sh" run-class kafka.admin.ConfigCommand --bootstrap-server "$bootstrap" --alter \
  --entity-type clients --entity-name scale-member --add-config consumer_byte_rate=3000000 >/dev/null
scale=(stream "${common[@]}" --group scale --client-id scale-member --lake "$work/scale" --trigger 200ms
       -X session.timeout.ms=6000)
a_point="put-if-absent:_delta_log:3:after"
SMARTCITY_CRASH_ARM="$work/arm" crash_run "$a_point" "$work/a.log" timeout -k 10 300 "$bin" "${scale[@]}" &
a=$!
track "$a"
"$bin" "${scale[@]}" --stop-when-idle 15s --final --summary-json "$work/b.json" >"$work/b.log" 2>&1 &
b=$!
track "$b"
shared() { grep -qs "| 3 partition groups |" "$work/a.log" && grep -qs "| 3 partition groups |" "$work/b.log"; }
wait_for 120 shared || fail "the members never shared the partitions: A: $(tail -2 "$work/a.log"); B: $(tail -2 "$work/b.log")"
touch "$work/arm"
rc=0; wait "$a" || rc=$?
[ "$rc" = 0 ] || fail "member A was not killed at its crash point $a_point"
grep "partition groups" "$work/a.log" | tail -1 | grep -q "| 3 partition groups |" ||
  fail "member A no longer shared the partitions when it crashed: $(tail -3 "$work/a.log")"
rc=0; wait "$b" || rc=$?
[ "$rc" = 0 ] || fail "member B failed (exit $rc): $(tail -5 "$work/b.log")"
"$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if sorted(j["partition_groups"]) == list(range(6)) else "B did not take over every partition: %s" % j["partition_groups"])' "$work/b.json"
digest "$work/scale" >"$work/scale.digest" || fail "scale-out lake: readers disagree, duplicates or missing files"
cmp -s "$work/ref.digest" "$work/scale.digest" || {
  show_diff <(tr ',' '\n' <"$work/ref.digest") <(tr ',' '\n' <"$work/scale.digest")
  fail "scale-out lake differs from the reference"
}
ok "two members sharing the partitions, one killed inside a commit: the other took over all 6 partition groups; lake equals the reference"

finish
